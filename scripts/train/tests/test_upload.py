"""The slimserve API client against a loopback server: trained-variant upload and teacher logits via /infer."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from conftest import DIGITS
from helpers import assert_learns
from slimtrain.loop import predict
from slimtrain.models import load_checkpoint
from slimtrain.upload import RECIPE_HEADER, ApiError, api_logits, upload_variant

TOKEN = "test-token"


class FakeSlimserve:
    """Records requests; answers the trained-variant route and an /infer route backed by a PyTorch teacher."""

    def __init__(self, teacher=None):
        self.requests = []
        self.teacher = teacher
        self.reject_with = None
        self.unavailable = 0  # how many requests to answer 503 (Retry-After: 0) before answering normally
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
                if fake.unavailable > 0:
                    fake.unavailable -= 1
                    status, answer = 503, "Your worker restarted mid-request. Please try sending the request again."
                else:
                    status, answer = fake.answer(self.path, self.headers, body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path, headers, body):
        if self.reject_with:
            return self.reject_with, {"error": {"code": "invalid_model", "message": "bad bytes"}}
        if path == "/v1/models/parent-1/variants/trained":
            return 201, {"id": "var-9", "parent": "parent-1", "recipe": json.loads(headers[RECIPE_HEADER])}
        if path == "/v1/models/teacher-1/infer":
            inp = json.loads(body)["inputs"]["input"]
            x = torch.tensor(inp["data"], dtype=torch.float32).reshape(inp["dims"])
            logits = predict(self.teacher, x.reshape(len(x), 1, 8, 8)).numpy()
            return 200, {"outputs": {"logits": {"type": "float32", "dims": list(logits.shape), "data": logits.ravel().tolist()}},
                         "variant": "original", "engine": "ort", "timeMs": 1}
        return 404, {"error": {"code": "not_found"}}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    s = FakeSlimserve()
    yield s
    s.close()


def test_upload_posts_the_bytes_with_bearer_token_and_recipe_header(server):
    onnx_bytes = b"\x08\x08fake-onnx-bytes"
    recipe = {"trained": {"method": "qat", "bits": 8, "epochs": 3, "dataset": "mnist"}}
    record = upload_variant(server.url, "parent-1", TOKEN, onnx_bytes, recipe)
    assert record["id"] == "var-9"
    (req,) = server.requests
    assert req["method"] == "POST" and req["path"] == "/v1/models/parent-1/variants/trained"
    assert req["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert req["headers"]["Content-Type"] == "application/octet-stream"
    assert req["body"] == onnx_bytes
    header = req["headers"][RECIPE_HEADER]
    assert json.loads(header) == recipe and " " not in header  # compact JSON


def test_upload_rejection_raises_with_the_status_and_the_servers_message(server):
    server.reject_with = 400
    with pytest.raises(ApiError) as err:
        upload_variant(server.url, "parent-1", TOKEN, b"junk", {"trained": {"method": "train"}})
    assert err.value.status == 400 and "bad bytes" in str(err.value)


def test_upload_is_sent_again_after_a_503_and_stored_once(server):
    server.unavailable = 1
    record = upload_variant(server.url, "parent-1", TOKEN, b"\x08\x08bytes", {"trained": {"method": "train"}})
    assert record["id"] == "var-9"
    assert [r["body"] for r in server.requests] == [b"\x08\x08bytes"] * 2


def test_upload_gives_up_after_two_retries_of_a_lasting_503(server):
    server.unavailable = 10
    with pytest.raises(ApiError) as err:
        upload_variant(server.url, "parent-1", TOKEN, b"\x08\x08bytes", {"trained": {"method": "train"}})
    assert err.value.status == 503 and "restarted" in str(err.value)
    assert len(server.requests) == 3


def test_a_rejection_other_than_503_is_not_sent_again(server):
    server.reject_with = 422
    with pytest.raises(ApiError):
        upload_variant(server.url, "parent-1", TOKEN, b"junk", {"trained": {"method": "train"}})
    assert len(server.requests) == 1


def test_cli_upload_flag_sends_the_exported_model(run_cli, server):
    res = run_cli("qat", *DIGITS, "--arch", "lenet-300-100", "--bits", "8", "--epochs", "1",
                  "--upload", server.url, "--parent", "parent-1", "--token", TOKEN)
    (req,) = server.requests
    with open(res["export"]["onnx"], "rb") as f:
        assert req["body"] == f.read()
    recipe = json.loads(req["headers"][RECIPE_HEADER])
    assert recipe["trained"]["method"] == "qat" and recipe["trained"]["bits"] == 8 and recipe["trained"]["epochs"] == 1
    assert recipe["trained"]["dataset"] == "digits"
    assert res["upload"]["id"] == "var-9"
    assert TOKEN not in json.dumps(res)  # the token never lands in results.json


def test_api_teacher_logits_equal_the_served_models_logits_in_batches(run_cli, digits):
    teacher_run = run_cli("train", *DIGITS, "--arch", "lenet-300-100", "--epochs", "2", out="teacher")
    teacher, _ = load_checkpoint(teacher_run["export"]["checkpoint"])
    s = FakeSlimserve(teacher)
    s.unavailable = 1  # the first batch is answered 503 once, and sent again
    try:
        x = digits.x_train[:300].reshape(300, 64).numpy()
        logits = api_logits(s.url, "teacher-1", x, token=TOKEN, batch_size=128)
    finally:
        s.close()
    assert [json.loads(r["body"])["inputs"]["input"]["dims"] for r in s.requests] == [[128, 64], [128, 64], [128, 64], [44, 64]]
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in s.requests)
    # float32 survives the JSON round trip exactly (compared batch by batch: BLAS sums depend on the batch shape)
    x300 = digits.x_train[:300]
    expected = np.concatenate([predict(teacher, x300[i : i + 128]).numpy() for i in range(0, 300, 128)])
    np.testing.assert_array_equal(logits, expected)


def test_distill_from_an_api_served_teacher_learns(run_cli, digits):
    teacher_run = run_cli("train", *DIGITS, "--arch", "lenet-300-100", "--epochs", "6", out="teacher")
    teacher, _ = load_checkpoint(teacher_run["export"]["checkpoint"])
    s = FakeSlimserve(teacher)
    try:
        res = run_cli("distill", *DIGITS, "--teacher-url", s.url, "--teacher-model", "teacher-1", "--teacher-token", TOKEN,
                      "--arch", "mlp", "--hidden", "64", "--temperature", "4", "--alpha", "0.7", "--epochs", "8")
    finally:
        s.close()
    assert res["teacher"]["model"] == "teacher-1" and res["teacher"]["input_shape"] == [64]
    assert len(s.requests) == -(-len(digits.y_train) // 256)
    assert_learns(res, 0.85)
