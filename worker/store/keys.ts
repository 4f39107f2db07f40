// Storage keys, all under the tenant: R2 holds bytes, KV holds records that point at them.
export const modelBlobKey = (tenant: string, modelId: string) => `t/${tenant}/models/${modelId}.onnx`;
export const variantBlobKey = (tenant: string, modelId: string, variantId: string) =>
  `t/${tenant}/variants/${modelId}/${variantId}.onnx`;
export const variantBlobPrefix = (tenant: string, modelId: string) => `t/${tenant}/variants/${modelId}/`;
/** Encoded weights a bounded compression moved out of memory, under the model's variants (its deletion takes them). */
export const spillBlobPrefix = (tenant: string, modelId: string, variantId: string) => `t/${tenant}/variants/${modelId}/spill/${variantId}/`;

export const modelRecordKey = (tenant: string, modelId: string) => `t:${tenant}:model:${modelId}`;
export const modelRecordPrefix = (tenant: string) => `t:${tenant}:model:`;
export const variantRecordKey = (tenant: string, modelId: string, variantId: string) =>
  `t:${tenant}:variant:${modelId}:${variantId}`;
export const variantRecordPrefix = (tenant: string, modelId: string) => `t:${tenant}:variant:${modelId}:`;
/** Every variant record of the tenant, of all its models. */
export const variantsPrefix = (tenant: string) => `t:${tenant}:variant:`;

// Experiments live in their Durable Object; KV only lists a tenant's experiment names (for GET and /metrics).
export const experimentRecordKey = (tenant: string, name: string) => `t:${tenant}:experiment:${name}`;
export const experimentRecordPrefix = (tenant: string) => `t:${tenant}:experiment:`;
export const datasetBlobKey = (tenant: string, datasetId: string) => `t/${tenant}/datasets/${datasetId}`;
export const datasetRecordKey = (tenant: string, datasetId: string) => `t:${tenant}:dataset:${datasetId}`;
export const datasetRecordPrefix = (tenant: string) => `t:${tenant}:dataset:`;
// Which jobs work on a model (so that deleting the model cancels them): one empty record per job.
export const modelJobKey = (tenant: string, modelId: string, jobId: string) => `t:${tenant}:job:${modelId}:${jobId}`;
export const modelJobPrefix = (tenant: string, modelId: string) => `t:${tenant}:job:${modelId}:`;
export const jobPrefix = (tenant: string) => `t:${tenant}:job:`;
// Uploads in progress: bytes staged in R2 until their content address is known, and the upload's record in KV.
export const uploadBlobKey = (tenant: string, uploadId: string) => `t/${tenant}/uploads/${uploadId}`;
export const uploadRecordKey = (tenant: string, uploadId: string) => `t:${tenant}:upload:${uploadId}`;
export const uploadRecordPrefix = (tenant: string) => `t:${tenant}:upload:`;
