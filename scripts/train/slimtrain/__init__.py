"""slimtrain: the offline half of slimserve (QAT down to binary, distillation, gradual pruning, ONNX export, upload)."""
