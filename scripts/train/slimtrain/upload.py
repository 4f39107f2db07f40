"""slimserve API client (urllib only): upload a trained variant, and fetch a served teacher's logits for distillation."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

RECIPE_HEADER = "X-Slimserve-Recipe"
# A 503 means the server could not take the request now (an isolate restarted mid-request, an overloaded edge). Both
# requests here can be sent again safely: a trained variant is content-addressed (the same bytes give the same record)
# and a model's /infer changes nothing. The typed JS client uses the same count and delays.
RETRIES_ON_503 = 2


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str, url: str):
        super().__init__(f"slimserve API {url} answered {status}: {body[:500]}")
        self.status, self.body = status, body


def _url(base: str, *parts: str) -> str:
    return base.rstrip("/") + "/" + "/".join(urllib.parse.quote(p, safe="") for p in parts)


def _retry_delay(attempt: int, retry_after: str | None) -> float:
    """Seconds before retry `attempt` (1-based): Retry-After where given (at most 5 s), else 0.25 s doubling."""
    try:
        seconds = float(retry_after) if retry_after else -1.0
    except ValueError:
        seconds = -1.0
    return min(seconds, 5.0) if seconds >= 0 else 0.25 * 2 ** (attempt - 1)


def _send(req: urllib.request.Request, timeout: float, retries: int = RETRIES_ON_503) -> tuple[int, bytes]:
    attempt = 0
    while True:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")
            attempt += 1
            if e.code != 503 or attempt > retries:
                raise ApiError(e.code, body, req.full_url) from None
            time.sleep(_retry_delay(attempt, e.headers.get("Retry-After")))


def upload_variant(base_url: str, model_id: str, token: str, onnx_bytes: bytes, recipe: dict,
                   timeout: float = 120.0) -> dict:
    """POST {base}/v1/models/{id}/variants/trained with the ONNX bytes; the recipe travels as compact JSON in a header.
    Returns the variant record (201 created, or 200 when the server already has identical bytes); a 503 is retried."""
    url = _url(base_url, "v1", "models", model_id, "variants", "trained")
    recipe_json = json.dumps(recipe, separators=(",", ":"), sort_keys=True)
    req = urllib.request.Request(url, data=onnx_bytes, method="POST", headers={
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/octet-stream",
        RECIPE_HEADER: recipe_json,
    })
    status, body = _send(req, timeout)
    if status not in (200, 201):
        raise ApiError(status, body.decode("utf-8", "replace"), url)
    record = json.loads(body)
    if not isinstance(record, dict) or "id" not in record:
        raise ApiError(status, body.decode("utf-8", "replace"), url)
    return record


def api_logits(base_url: str, model_id: str, x: np.ndarray, *, token: str | None = None, input_name: str = "input",
               batch_size: int = 256, timeout: float = 120.0, progress=None) -> np.ndarray:
    """Teacher logits from the model served by slimserve: POST {base}/v1/models/{id}/infer in batches.
    x is already shaped as the served model expects ([B, ...]); the first output is taken as the logits."""
    url = _url(base_url, "v1", "models", model_id, "infer")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    x = np.ascontiguousarray(x, dtype=np.float32)
    chunks = []
    starts = range(0, len(x), batch_size)
    for s in progress(starts) if progress else starts:
        batch = x[s : s + batch_size]
        payload = {"inputs": {input_name: {"type": "float32", "dims": list(batch.shape), "data": batch.ravel().tolist()}}}
        req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST", headers=headers)
        _, body = _send(req, timeout)
        outputs = json.loads(body).get("outputs")
        if not outputs:
            raise ApiError(200, body.decode("utf-8", "replace"), url)
        first = next(iter(outputs.values()))
        logits = np.asarray(first["data"], dtype=np.float32).reshape(first["dims"])
        if logits.shape[0] != len(batch):
            raise ApiError(200, f"expected {len(batch)} rows of logits, got dims {first['dims']}", url)
        chunks.append(logits.reshape(len(batch), -1))
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
