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

/// A Gemm (x W^T + b, the weight [outputs, inputs]) and, with `relu`, a Relu, named `name`.
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

#[cfg(test)]
mod tests {
    use gstals::classify::{ClassModel, LABELS_KEY, SYNTHETIC_KEY};
    use gstals::features::{FaceFeatures, FeatureSpec, FlowMode, LandmarkMode};

    use super::*;
    use crate::model::{Batch, Matrix, Preprocess, TrainConfig, train};
    use crate::pca::{Keep, fit};

    fn spec() -> FeatureSpec {
        FeatureSpec {
            landmark_mode: LandmarkMode::Roi,
            flow_mode: FlowMode::Face,
            grid_width: 4,
            grid_height: 4,
            landmarks: 468,
            flow_method: gstals::flow::FlowMethod::default(),
            region_size: 128,
            fps: 30.0,
        }
    }

    /// Deterministic values that differ by class.
    fn data(n: usize, width: usize, classes: usize) -> (Vec<f32>, Vec<u32>) {
        let labels: Vec<u32> = (0..n).map(|i| (i % classes) as u32).collect();
        let values = (0..n * width)
            .map(|i| {
                let (r, c) = (i / width, i % width);
                ((r * 31 + c * 17) % 23) as f32 / 23.0 + labels[r] as f32 * (c % 3) as f32 * 0.3
            })
            .collect();
        (values, labels)
    }

    fn parity(classes: usize) {
        let spec = spec();
        let (l, f, n) = (spec.landmark_len(), spec.flow_len(), 48);
        let (lm, labels) = data(n, l, classes);
        let (fl, _) = data(n, f, classes);
        let pca = fit(&fl, f, Keep::Components(5)).unwrap();
        let pre = Preprocess::fit(&lm, l, &pca);
        let raw_lm = Matrix::new(n, l, lm.clone()).unwrap();
        let raw_fl = Matrix::new(n, f, fl.clone()).unwrap();
        let (zl, zf) = pre.apply(&raw_lm, &raw_fl).unwrap();
        let batch = Batch {
            landmarks: zl,
            flow: zf,
            labels,
        };
        let cfg = TrainConfig {
            epochs: 3,
            batch_size: 16,
            learning_rate: 0.01,
            dropout: 0.5,
            seed: 5,
        };
        let (net, _) = train(&batch, None, classes, &cfg).unwrap();
        let names: Vec<String> = (0..classes).map(|c| format!("class{c}")).collect();
        let trained = Trained {
            preprocess: pre,
            net,
            labels: names.clone(),
        };
        let mut metadata: Vec<(String, String)> =
            crate::data::spec_metadata(&spec).into_iter().collect();
        metadata.push((LABELS_KEY.into(), names.join(",")));
        metadata.push((SYNTHETIC_KEY.into(), "true".into()));
        let path =
            std::env::temp_dir().join(format!("als-parity-{classes}-{}.onnx", std::process::id()));
        std::fs::write(&path, to_onnx(&trained, &metadata).unwrap()).unwrap();
        let library = gstals::mesh::resolve_library(None);
        let mut model = ClassModel::load(&library, &path, 1).unwrap();
        let _ = std::fs::remove_file(&path);
        let expected = trained.predict(&raw_lm, &raw_fl).unwrap();
        let faces: Vec<FaceFeatures> = (0..n)
            .map(|r| FaceFeatures {
                face_id: r as u32,
                landmarks: lm[r * l..(r + 1) * l].to_vec(),
                flow: fl[r * f..(r + 1) * f].to_vec(),
            })
            .collect();
        let got = model.run(&faces.iter().collect::<Vec<_>>()).unwrap();
        let mut worst = 0.0f32;
        for (a, b) in got.iter().zip(&expected) {
            assert_eq!(a.len(), classes);
            for (x, y) in a.iter().zip(b) {
                worst = worst.max((x - y).abs());
            }
        }
        assert!(
            worst < 1e-5,
            "ONNX Runtime and the trainer's predictor differ by {worst}"
        );
        let spread = expected.iter().map(|p| p[0]).fold(0.0f32, f32::max)
            - expected.iter().map(|p| p[0]).fold(1.0f32, f32::min);
        assert!(
            spread > 0.01,
            "the model must not give every row the same answer"
        );
    }

    #[test]
    fn onnx_matches_the_predictor_with_two_classes() {
        parity(2);
    }

    #[test]
    fn onnx_matches_the_predictor_with_three_classes() {
        parity(3);
    }
}
