// What the catalog tells those who keep copies of its contents (the serving caches) when a model changes: they
// register here at startup (worker/index.ts), so that the catalog depends on none of them.
export type ModelChangeListener = (tenant: string, modelId: string) => void;

const listeners: ModelChangeListener[] = [];

export function onModelChanged(listener: ModelChangeListener): void {
  if (!listeners.includes(listener)) listeners.push(listener);
}

/** A model (and with it its variants) was deleted: copies of it must go. */
export function modelChanged(tenant: string, modelId: string): void {
  for (const listener of listeners) listener(tenant, modelId);
}
