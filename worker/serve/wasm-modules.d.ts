// wrangler's default module rules turn `*.wasm` imports into compiled WebAssembly.Module values.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
