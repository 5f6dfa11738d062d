"""Exporters and runtimes: ONNX export, ONNX Runtime runner, parity checks."""
