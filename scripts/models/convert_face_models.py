#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Converts MediaPipe's BlazeFace (short range) and Face Mesh TFLite models to ONNX.

Run inside a virtualenv with tflite2onnx==0.4.1, tflite==2.18.0 and onnx==1.23.2 (see
scripts/build-models.sh). Usage: convert_face_models.py DETECTOR.tflite LANDMARK.tflite OUTDIR
"""
import os
import sys
import tempfile

import onnx
import tflite2onnx
from onnx import TensorProto, helper
from tflite2onnx import graph as t2o_graph


def _shape_fp16_constants_like_their_dequantized_tensor():
    """tflite2onnx gives a PReLU slope a leading batch axis on the dequantized tensor only; its
    FP16 source keeps the shorter shape and the layout pass then indexes past its end."""
    propagate = t2o_graph.Graph._propagateLayout

    def patched(self):
        for op in self.ops:
            if op.type != "DequantizeLinear":
                continue
            src, dst = op.inputs[0], op.outputs[0]
            if src.dtype is TensorProto.FLOAT16 and src.isInitializer and src.shape != dst.shape:
                src.data = src.data.reshape(dst.shape)
                src.shape = list(dst.shape)
        return propagate(self)

    t2o_graph.Graph._propagateLayout = patched


def _prelu_as_relu(model):
    """PRelu(x, a) = Relu(x) + a * (x - Relu(x)): exact, and about twice as fast in ONNX
    Runtime as its PRelu kernel."""
    nodes = []
    for node in model.graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope = node.input
        (y,) = node.output
        base = node.name or y
        relu, neg, scaled = f"{base}/relu", f"{base}/neg", f"{base}/scaled"
        nodes += [
            helper.make_node("Relu", [x], [relu], name=relu),
            helper.make_node("Sub", [x, relu], [neg], name=neg),
            helper.make_node("Mul", [slope, neg], [scaled], name=scaled),
            helper.make_node("Add", [relu, scaled], [y], name=f"{base}/add"),
        ]
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _sorted_initializers(model):
    inits = sorted(model.graph.initializer, key=lambda t: t.name)
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)


def convert(src, dst):
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.onnx")
        tflite2onnx.convert(src, raw)
        model = onnx.load(raw)
    _prelu_as_relu(model)
    _sorted_initializers(model)
    del model.graph.value_info[:]
    model.producer_name = "gst-als scripts/models/convert_face_models.py"
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def main():
    detector, landmark, outdir = sys.argv[1:4]
    _shape_fp16_constants_like_their_dequantized_tensor()
    os.makedirs(outdir, exist_ok=True)
    convert(detector, os.path.join(outdir, "face_detection_short_range.onnx"))
    convert(landmark, os.path.join(outdir, "face_landmark.onnx"))


if __name__ == "__main__":
    main()
