"""Convert resemblyzer's voice encoder (a PyTorch checkpoint) to an ONNX model, once.

tapeworks runs the encoder with onnxruntime (already installed with faster-whisper), so
the default install needs neither torch nor resemblyzer. This script is the one place
that still reads the PyTorch checkpoint; it needs the dev install (torch 2.13.0 CPU,
resemblyzer, onnx):

    PYTHONPATH=src python scripts/convert_voice_encoder.py           # writes the shipped model
    PYTHONPATH=src python scripts/convert_voice_encoder.py --check   # rebuilds and compares

The graph is built by hand from the weights (no tracing): three ONNX LSTM layers, the
linear layer, ReLU and L2 normalisation, the same network as resemblyzer.VoiceEncoder.
Only the inference weights are kept, values unchanged (float32); the checkpoint's
optimizer state and the GE2E similarity scale are training leftovers. The weights are
Apache-2.0 (Resemblyzer, Resemble AI): LICENSE and NOTICE are shipped next to the model.
After a change, put the printed SHA-256 in tapeworks/speech/voice_encoder/encoder.py.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "tapeworks" / "speech" / "voice_encoder" / "resemblyzer_voice_encoder.onnx"
HIDDEN = 256
LAYERS = 3


def _onnx_gates(w: np.ndarray) -> np.ndarray:
    """PyTorch orders LSTM gates input, forget, cell, output; ONNX input, output, forget, cell."""
    i, f, g, o = np.split(w, 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def convert() -> bytes:
    import onnx
    import resemblyzer
    import torch
    from onnx import TensorProto, helper, numpy_helper

    checkpoint_path = Path(resemblyzer.__file__).parent / "pretrained.pt"
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)["model_state"]
    weights = {name: value.numpy().astype(np.float32) for name, value in state.items()}

    initializers = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.ascontiguousarray(weights["linear.weight"].T), "linear_w"),
        numpy_helper.from_array(weights["linear.bias"], "linear_b"),
    ]
    nodes = [helper.make_node("Transpose", ["mels"], ["x0"], perm=[1, 0, 2])]  # time-major
    for n in range(LAYERS):
        w = _onnx_gates(weights[f"lstm.weight_ih_l{n}"])[None]
        r = _onnx_gates(weights[f"lstm.weight_hh_l{n}"])[None]
        b = np.concatenate([_onnx_gates(weights[f"lstm.bias_ih_l{n}"]),
                            _onnx_gates(weights[f"lstm.bias_hh_l{n}"])])[None]
        initializers += [numpy_helper.from_array(w, f"w{n}"), numpy_helper.from_array(r, f"r{n}"),
                         numpy_helper.from_array(b, f"b{n}")]
        nodes += [
            helper.make_node("LSTM", [f"x{n}", f"w{n}", f"r{n}", f"b{n}"], [f"y{n}", f"h{n}"],
                             hidden_size=HIDDEN),
            helper.make_node("Squeeze", [f"y{n}", "axis1"], [f"x{n + 1}"]),  # drop num_directions
        ]
    nodes += [
        helper.make_node("Squeeze", [f"h{LAYERS - 1}", "axis0"], ["hidden"]),  # last layer's final state
        helper.make_node("Gemm", ["hidden", "linear_w", "linear_b"], ["linear"]),
        helper.make_node("Relu", ["linear"], ["positive"]),
        helper.make_node("LpNormalization", ["positive"], ["embeddings"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes, "resemblyzer_voice_encoder",
        [helper.make_tensor_value_info("mels", TensorProto.FLOAT, ["batch", "frames", 40])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", HIDDEN])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="tapeworks scripts/convert_voice_encoder.py")
    model.ir_version = 8  # readable by every onnxruntime faster-whisper accepts
    source = hashlib.sha256(checkpoint_path.read_bytes()).hexdigest()
    helper.set_model_props(model, {"source": "resemblyzer 0.1.4 pretrained.pt",
                                   "source_sha256": source, "license": "Apache-2.0"})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped model")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    data = convert()
    digest = hashlib.sha256(data).hexdigest()
    if args.check:
        from tapeworks.speech.voice_encoder.encoder import MODEL_SHA256

        shipped = args.out.read_bytes()
        same = shipped == data and digest == MODEL_SHA256
        print(f"shipped model {'matches' if same else 'DIFFERS from'} the checkpoint converted "
              f"(sha256 {digest}, encoder.py expects {MODEL_SHA256})")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data) / 1e6:.1f} MB, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
