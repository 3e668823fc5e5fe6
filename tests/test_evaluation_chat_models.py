"""lmms-eval's chat models that decode videos on the client (openai, vllm, sglang) on dybench's short clips.

Those models sample a fixed number of frames from a video path (openai 10, vllm and sglang 32), which fails
on a clip with fewer frames; dybench's tasks give them the clip's frames as images instead. The openai
model runs end to end against an OpenAI-compatible server on 127.0.0.1 started here (stdlib http.server);
vllm's and sglang's messages are built for a dybench document without starting an engine.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from evaldata import FRAMES, PAIRS, make_pairs, reported, rescore

from dybench.evaluation import EvalError, evaluate
from dybench.evaluation._eval_run import _task_index

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    return make_pairs(tmp_path_factory.mktemp("chat") / "pairs")


class _Server(ThreadingHTTPServer):
    requests: list[dict]
    status: int


class _ChatCompletions(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions``: records the request, answers "B" (or fails with ``server.status``)."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, **body})
        reply = {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "B"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
        }  # fmt: skip
        data = json.dumps(reply if self.server.status == 200 else {"error": {"message": "down"}}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def _openai_server(status: int = 200) -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _ChatCompletions)
    server.requests, server.status = [], status
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _model_args(server: _Server) -> str:
    host, port = server.server_address[:2]
    return f"model_version=test-vlm,base_url=http://{host}:{port}/v1,api_key=none,max_retries=1,retry_backoff_s=0"


def test_openai_model_on_short_clips_end_to_end(pairs, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with _openai_server() as server:
        run = evaluate("openai", "dybench_pair", model_args=_model_args(server), data=pairs, output=tmp_path)
    assert run.results_path.parent.name == "openai__test-vlm"
    n_items = 2 * len(PAIRS)
    assert len(server.requests) == n_items, "one request per item, no stand-in for the missing category"
    for request in server.requests:
        assert request["path"] == "/v1/chat/completions" and request["model"] == "test-vlm"
        (message,) = request["messages"]
        kinds = [part["type"] for part in message["content"]]
        assert kinds == ["image_url"] * FRAMES + ["text"], "every frame of the 4-frame clip, then the question"
        assert message["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
        assert "Answer with the option's letter" in message["content"][-1]["text"] or message["content"][-1]["text"]
    subtasks = [run.samples_paths[t] for t in run.results["group_subtasks"]["dybench_pair"]]
    got, want = reported(run.results, "dybench_pair"), rescore(subtasks, "dybench_pair", pairs, tmp_path)
    assert got and got == pytest.approx({k: want[k] for k in got})
    assert want["n_items"] == n_items and 0 < got["acc"] < 1


def test_failed_requests_end_the_run_instead_of_counting_as_wrong_answers(pairs, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with _openai_server(status=500) as server, pytest.raises(EvalError, match=r"12 of 12 requests to the model failed"):
        evaluate("openai", "dybench_pair", model_args=_model_args(server), data=pairs, output=tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing written"


# --- vllm and sglang: their messages for a dybench document, no engine ------------------------------------


def _request(model: str, pairs: Path, monkeypatch) -> tuple[object, dict]:
    """lmms-eval's request for the first document of dybench_pair_moving_direction as ``model`` gets it, and
    the task dict a chat model reads documents from."""
    from lmms_eval.tasks import get_task_dict

    monkeypatch.setenv("DYBENCH_PAIRS", str(pairs))
    manager = _task_index()
    monkeypatch.setattr(manager, "model_name", model)
    task_name = "dybench_pair_moving_direction"
    task = get_task_dict([task_name], manager, "chat")[task_name]
    metadata = {"task": task_name, "doc_id": 0, "repeats": 1, "split": "test"}
    request = task.construct_requests(0, "", metadata=metadata)  # as lmms-eval's evaluator builds it
    return request, {task_name: {"test": task.test_docs()}}


def _check_frames_and_question(content: list[dict], image_type: str) -> None:
    assert [part["type"] for part in content] == [image_type] * FRAMES + ["text"]
    assert "Which way does the square move?" in content[-1]["text"]


def test_vllm_gets_the_frames_of_a_short_clip(pairs, monkeypatch):
    from lmms_eval.models.chat.vllm import VLLM

    request, task_dict = _request("vllm", pairs, monkeypatch)
    model = object.__new__(VLLM)  # no engine: only what make_one_request reads
    model.task_dict, model.max_new_tokens = task_dict, 4096
    model.max_pixels, model.min_image_pixels, model.max_frame_num = 1605632, 28, 768
    model.fps, model.nframes, model.is_qwen3_vl = None, 32, False
    messages, params = model.make_one_request(request)
    (message,) = messages
    _check_frames_and_question(message["content"], "image_url")
    assert params["temperature"] == 0


def test_sglang_gets_the_frames_of_a_short_clip(pairs, monkeypatch):
    # sglang is not installed: the names lmms-eval's module imports at its top, none of which runs here
    for name, attrs in {
        "sglang": {"Engine": object},
        "sglang.srt.function_call.function_call_parser": {"FunctionCallParser": object},
        "sglang.srt.entrypoints.openai.protocol": {"Tool": object},
    }.items():
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            module = sys.modules.get(".".join(parts[:depth])) or types.ModuleType(".".join(parts[:depth]))
            module.__path__ = []  # a package, so its submodules import
            monkeypatch.setitem(sys.modules, module.__name__, module)
        for key, value in attrs.items():
            setattr(module, key, value)
    monkeypatch.delitem(sys.modules, "lmms_eval.models.chat.sglang", raising=False)
    from lmms_eval.models.chat.sglang import Sglang

    request, task_dict = _request("sglang", pairs, monkeypatch)
    model = object.__new__(Sglang)  # no engine: only what _prepare_single_message reads
    model.task_dict, model.tools = task_dict, None
    model.max_pixels, model.min_pixels, model.max_frame_num, model.fps, model.nframes = 1605632, 784, 768, None, 32
    messages, images, videos = model._prepare_single_message(request)
    (message,) = messages
    _check_frames_and_question(message["content"], "image")
    assert videos == [] and len(images) == FRAMES and images[0].size == (64, 64)


def test_other_models_still_get_the_video_path(pairs, monkeypatch):
    request, task_dict = _request("qwen2_5_vl", pairs, monkeypatch)
    _, doc_to_messages, _, doc_id, task, split = request.arguments
    (message,) = doc_to_messages(task_dict[task][split][doc_id])
    video, text = message["content"]
    assert video["type"] == "video" and video["url"].endswith(".mp4") and text["type"] == "text"
