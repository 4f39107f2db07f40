// Unit-test setup: compression quantizes on the committed wasm kernels in Node as it does in workerd (there
// worker/index.ts provides them at startup), so every unit test of the pipeline and the pinned variant bytes go
// through them. Tests of the scalar path take the module away in their own file.
import { provideCompressionKernels } from "@worker/compress/simd-quantize";
import { plainKernelModule } from "./kernels";

provideCompressionKernels(plainKernelModule);
