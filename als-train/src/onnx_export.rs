// SPDX-License-Identifier: MPL-2.0

//! The trained pipeline as one ONNX graph: standardisation, the flow PCA and the dual-branch
//! network, so `alsclassify` feeds raw features. Written with the `onnx-protobuf` types.

use onnx_protobuf::{
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::Dimension,
    type_proto,
};

use crate::model::Trained;

const OPSET: i64 = 13;
const IR_VERSION: i64 = 8;

fn tensor(name: &str, dims: &[usize], values: Vec<f32>) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::FLOAT as i32,
        float_data: values,
        ..Default::default()
    }
}

fn int_attribute(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INT.into(),
        i: value,
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attributes: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute: attributes,
        ..Default::default()
    }
}

/// A float tensor of shape [N, width], N named "N".
fn batch_value(name: &str, width: usize) -> ValueInfoProto {
    let dim = |value: Option<i64>| {
        let mut d = Dimension::new();
        match value {
            Some(v) => d.set_dim_value(v),
            None => d.set_dim_param("N".into()),
        }
        d
    };
    let shape = TensorShapeProto {
        dim: vec![dim(None), dim(Some(width as i64))],
        ..Default::default()
    };
    let tensor_type = type_proto::Tensor {
        elem_type: DataType::FLOAT as i32,
        shape: Some(shape).into(),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.into(),
        type_: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor_type)),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

/// A Gemm (x W^T + b, candle's weight layout) and, with `relu`, a Relu, named `name`.
fn add_dense(
    init: &mut Vec<TensorProto>,
    nodes: &mut Vec<NodeProto>,
    input: &str,
    name: &str,
    layer: &crate::model::Dense,
    relu: bool,
) {
    let (w, b) = (format!("{name}_w"), format!("{name}_b"));
    init.push(tensor(
        &w,
        &[layer.outputs, layer.inputs],
        layer.weight.clone(),
    ));
    init.push(tensor(&b, &[layer.outputs], layer.bias.clone()));
    let gemm_out = if relu {
        format!("{name}_lin")
    } else {
        name.to_string()
    };
    nodes.push(node(
        "Gemm",
        &[input, &w, &b],
        &gemm_out,
        vec![int_attribute("transB", 1)],
    ));
    if relu {
        nodes.push(node("Relu", &[&gemm_out], name, vec![]));
    }
}

/// The model as ONNX bytes, with `metadata` as its `metadata_props`.
pub fn to_onnx(trained: &Trained, metadata: &[(String, String)]) -> Result<Vec<u8>, String> {
    let mut init = Vec::new();
    let mut nodes = Vec::new();
    let p = &trained.preprocess;
    let (l, f, k) = (p.landmark_mean.len(), p.flow_mean.len(), p.components);
    init.push(tensor("landmark_mean", &[l], p.landmark_mean.clone()));
    init.push(tensor("landmark_std", &[l], p.landmark_std.clone()));
    init.push(tensor("flow_mean", &[f], p.flow_mean.clone()));
    init.push(tensor("pca", &[f, k], p.pca_matrix.clone()));
    init.push(tensor("pca_std", &[k], p.pca_std.clone()));
    nodes.push(node(
        "Sub",
        &["landmarks", "landmark_mean"],
        "lm_centred",
        vec![],
    ));
    nodes.push(node("Div", &["lm_centred", "landmark_std"], "lm_z", vec![]));
    nodes.push(node("Sub", &["flow", "flow_mean"], "flow_centred", vec![]));
    nodes.push(node("MatMul", &["flow_centred", "pca"], "flow_pcs", vec![]));
    nodes.push(node("Div", &["flow_pcs", "pca_std"], "flow_z", vec![]));

    let net = &trained.net;
    let mut dense = |input: &str, name: &str, layer: &crate::model::Dense, relu: bool| {
        add_dense(&mut init, &mut nodes, input, name, layer, relu)
    };
    dense("lm_z", "lm1", &net.landmark1, true);
    dense("lm1", "lm2", &net.landmark2, true);
    dense("flow_z", "fl1", &net.flow1, true);
    dense("fl1", "fl2", &net.flow2, true);
    let mut concat = node(
        "Concat",
        &["lm2", "fl2"],
        "fused",
        vec![int_attribute("axis", 1)],
    );
    concat.name = "fused".into();
    nodes.push(concat);
    add_dense(&mut init, &mut nodes, "fused", "head", &net.head, true);
    add_dense(&mut init, &mut nodes, "head", "logits", &net.output, false);
    let classes = trained.labels.len();
    if net.output.outputs == 1 {
        // Two classes: the paper's single sigmoid unit, given out as [1 - p, p].
        init.push(tensor("one", &[1], vec![1.0]));
        nodes.push(node("Sigmoid", &["logits"], "positive", vec![]));
        nodes.push(node("Sub", &["one", "positive"], "negative", vec![]));
        nodes.push(node(
            "Concat",
            &["negative", "positive"],
            "probabilities",
            vec![int_attribute("axis", 1)],
        ));
    } else {
        nodes.push(node(
            "Softmax",
            &["logits"],
            "probabilities",
            vec![int_attribute("axis", 1)],
        ));
    }
    let graph = GraphProto {
        name: "als-dual-branch".into(),
        node: nodes,
        initializer: init,
        input: vec![batch_value("landmarks", l), batch_value("flow", f)],
        output: vec![batch_value("probabilities", classes)],
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "als-train".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
            ..Default::default()
        }],
        graph: Some(graph).into(),
        metadata_props: metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: k.clone(),
                value: v.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    model
        .write_to_bytes()
        .map_err(|e| format!("could not encode the ONNX model: {e}"))
}
