// Short names for the generated ONNX enums, used across the exporter and its readers.
global using OnnxDataType = MLNet.FastAi.Onnx.Proto.TensorProto.Types.DataType;
global using OnnxAttributeType = MLNet.FastAi.Onnx.Proto.AttributeProto.Types.AttributeType;
