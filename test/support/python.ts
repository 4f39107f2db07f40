// The Python the offline tools run on: Debian's, whose python3-torch, python3-onnx and friends the prerequisites install.
export const PYTHON = "/usr/bin/python3";
