"""Export the reconstructor to ONNX, check parity with PyTorch, build TensorRT engines (scripts + functions)."""
