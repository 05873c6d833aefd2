"""numpy <-> TensorProto without tf.make_tensor_proto's Python overhead (it dominates small requests)."""
from __future__ import annotations

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

_NUMERIC = {
    np.dtype(np.float32): types_pb2.DT_FLOAT,
    np.dtype(np.float64): types_pb2.DT_DOUBLE,
    np.dtype(np.int32): types_pb2.DT_INT32,
    np.dtype(np.int64): types_pb2.DT_INT64,
}
_FROM_ENUM = {v: k for k, v in _NUMERIC.items()}


def _shape(shape) -> tensor_shape_pb2.TensorShapeProto:
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape])


def to_tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A TensorProto of `array`; numeric dtypes go in tensor_content (little-endian bytes), as TF writes them."""
    array = np.asarray(array)
    enum = _NUMERIC.get(array.dtype)
    if enum is not None:
        return tensor_pb2.TensorProto(
            dtype=enum, tensor_shape=_shape(array.shape), tensor_content=np.ascontiguousarray(array).tobytes()
        )
    import tensorflow as tf

    return tf.make_tensor_proto(array)


def from_tensor_proto(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """The numpy array of a TensorProto (any encoding a client may use)."""
    dtype = _FROM_ENUM.get(proto.dtype)
    if dtype is not None and proto.tensor_content:
        shape = [d.size for d in proto.tensor_shape.dim]
        return np.frombuffer(proto.tensor_content, dtype=dtype).reshape(shape)
    import tensorflow as tf

    return tf.make_ndarray(proto)
