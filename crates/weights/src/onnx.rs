//! The few ONNX protobuf messages needed to read a model's initializers. prost skips every
//! field not declared here, so the graph's nodes cost nothing.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

/// ONNX `TensorProto.DataType.FLOAT`.
const ONNX_FLOAT: i32 = 1;

/// One float32 initializer of an ONNX graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Initializer {
    pub name: String,
    pub dims: Vec<usize>,
    pub data: Vec<f32>,
}

/// Reads the float32 initializers of an ONNX model (others are skipped). Fails with a reason
/// when the bytes are not an ONNX model or a tensor's data does not match its shape.
pub fn read_initializers(bytes: &[u8]) -> Result<Vec<Initializer>, String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("protobuf decode failed ({e})"))?;
    if model.ir_version <= 0 {
        return Err("no ONNX ir_version field".into());
    }
    let graph = model.graph.ok_or("the model has no graph")?;
    let mut out = Vec::new();
    for t in graph.initializer.into_iter().filter(|t| t.data_type == ONNX_FLOAT) {
        let dims: Vec<usize> = t.dims.iter().map(|&d| usize::try_from(d)).collect::<Result<_, _>>()
            .map_err(|_| format!("initializer {} has a negative dimension", t.name))?;
        let numel: usize = dims.iter().product();
        let data = if !t.raw_data.is_empty() {
            if t.raw_data.len() != numel * 4 {
                return Err(format!(
                    "initializer {} holds {} bytes, its shape {dims:?} needs {}",
                    t.name, t.raw_data.len(), numel * 4
                ));
            }
            // ONNX raw_data is little-endian regardless of the host.
            t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
        } else {
            if t.float_data.len() != numel {
                return Err(format!("initializer {} holds {} floats, its shape needs {numel}", t.name, t.float_data.len()));
            }
            t.float_data
        };
        out.push(Initializer { name: t.name, dims, data });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_with(t: TensorProto) -> Vec<u8> {
        ModelProto { ir_version: 7, graph: Some(GraphProto { initializer: vec![t] }) }.encode_to_vec()
    }

    #[test]
    fn reads_raw_and_float_data() {
        let raw: Vec<u8> = [1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let bytes = model_with(TensorProto { dims: vec![2, 3], data_type: 1, float_data: vec![], name: "w".into(), raw_data: raw });
        let inits = read_initializers(&bytes).unwrap();
        assert_eq!(inits, vec![Initializer { name: "w".into(), dims: vec![2, 3], data: vec![1.5, -2.0, 3.25, 0.0, 7.0, 8.0] }]);

        let bytes = model_with(TensorProto { dims: vec![2], data_type: 1, float_data: vec![4.0, 5.0], name: "b".into(), raw_data: vec![] });
        assert_eq!(read_initializers(&bytes).unwrap()[0].data, vec![4.0, 5.0]);
    }

    #[test]
    fn rejects_mismatched_sizes_and_garbage() {
        let bytes = model_with(TensorProto { dims: vec![4], data_type: 1, float_data: vec![], name: "w".into(), raw_data: vec![0; 12] });
        assert!(read_initializers(&bytes).unwrap_err().contains("needs 16"));
        assert!(read_initializers(b"this is plainly not a protobuf \xff\xff\xff").is_err());
        assert!(read_initializers(&[]).unwrap_err().contains("ir_version"));
    }
}
