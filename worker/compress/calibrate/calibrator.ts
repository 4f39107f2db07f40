// What every calibrator is: it observes an activation's values and answers the range to quantize it over. Its own
// module so that the calibrators and the index that picks among them import it without importing each other.
export interface Range {
  min: number;
  max: number;
}

export interface Calibrator {
  observe(values: Float32Array): void;
  range(): Range;
}
