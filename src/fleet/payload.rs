//! Sparkplug B payloads: the messages built from samples (births, data, death) and the
//! commands read back. The protobuf types are generated from `proto/sparkplug_b.proto`.

use prost::Message;

use super::metrics::{Kind, Point, Sample, Scalar};

#[allow(unreachable_pub, missing_docs, clippy::all, clippy::pedantic)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/sparkplug_b.rs"));
}

pub(crate) use generated::payload::{metric::Value as PbValue, Metric as PbMetric};
pub(crate) use generated::{DataType, Payload};

/// The Sparkplug data type of `kind`.
fn datatype(kind: Kind) -> DataType {
    match kind {
        Kind::Double => DataType::Double,
        Kind::UInt64 => DataType::UInt64,
        Kind::Int32 => DataType::Int32,
        Kind::Boolean => DataType::Boolean,
        Kind::String => DataType::String,
        Kind::DoubleArray => DataType::DoubleArray,
    }
}

fn value(v: &Scalar) -> PbValue {
    match v {
        Scalar::F64(x) => PbValue::DoubleValue(*x),
        Scalar::U64(x) => PbValue::LongValue(*x),
        // Int32 travels as its two's complement bits in the uint32 field.
        Scalar::I32(x) => PbValue::IntValue(*x as u32),
        Scalar::Bool(x) => PbValue::BooleanValue(*x),
        Scalar::Str(x) => PbValue::StringValue(x.clone()),
        Scalar::F64s(xs) => PbValue::BytesValue(xs.iter().flat_map(|x| x.to_le_bytes()).collect()),
    }
}

/// One metric, named and typed (this node sends no aliases).
pub(crate) fn metric(name: &str, p: &Point) -> PbMetric {
    PbMetric {
        name: Some(name.to_owned()),
        timestamp: Some(p.at_ms),
        datatype: Some(datatype(p.kind) as u32),
        is_null: p.value.is_none().then_some(true),
        value: p.value.as_ref().map(value),
        ..Default::default()
    }
}

/// A payload of `metrics` sent at `now_ms`; `seq` is none only for NDEATH.
pub(crate) fn encode(now_ms: u64, seq: Option<u8>, metrics: Vec<PbMetric>) -> Vec<u8> {
    Payload {
        timestamp: Some(now_ms),
        metrics,
        seq: seq.map(u64::from),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The bdSeq metric, in NBIRTH and in the NDEATH that is the MQTT will.
pub(crate) fn bd_seq(bd: u8, now_ms: u64) -> PbMetric {
    PbMetric {
        name: Some("bdSeq".into()),
        timestamp: Some(now_ms),
        datatype: Some(DataType::UInt64 as u32),
        value: Some(PbValue::LongValue(u64::from(bd))),
        ..Default::default()
    }
}

/// NDEATH: the timestamp and bdSeq, no seq.
pub(crate) fn ndeath(bd: u8, now_ms: u64) -> Vec<u8> {
    encode(now_ms, None, vec![bd_seq(bd, now_ms)])
}

/// NBIRTH: bdSeq, the node's controls and properties.
pub(crate) fn nbirth(bd: u8, seq: u8, now_ms: u64, accept_stop: bool) -> Vec<u8> {
    let flag = |name: &str, v: bool| PbMetric {
        name: Some(name.into()),
        timestamp: Some(now_ms),
        datatype: Some(DataType::Boolean as u32),
        value: Some(PbValue::BooleanValue(v)),
        ..Default::default()
    };
    let software = PbMetric {
        name: Some("Properties/Software".into()),
        timestamp: Some(now_ms),
        datatype: Some(DataType::String as u32),
        value: Some(PbValue::StringValue(format!(
            "armature {}",
            env!("CARGO_PKG_VERSION")
        ))),
        ..Default::default()
    };
    let metrics = vec![
        bd_seq(bd, now_ms),
        flag("Node Control/Rebirth", false),
        software,
        flag("Properties/Accept Stop", accept_stop),
    ];
    encode(now_ms, Some(seq), metrics)
}

/// DBIRTH: every device metric with its type and value.
pub(crate) fn dbirth(sample: &Sample, seq: u8, now_ms: u64) -> Vec<u8> {
    let metrics = sample.iter().map(|(n, p)| metric(n, p)).collect();
    encode(now_ms, Some(seq), metrics)
}

/// DDATA: the metrics `names` of `sample`.
pub(crate) fn ddata(sample: &Sample, names: &[&str], seq: u8, now_ms: u64) -> Vec<u8> {
    let metrics = names
        .iter()
        .filter_map(|n| sample.get(*n).map(|p| metric(n, p)))
        .collect();
    encode(now_ms, Some(seq), metrics)
}

/// A command's metrics (NCMD, DCMD), or why the payload is not one.
pub(crate) fn commands(bytes: &[u8]) -> Result<Vec<PbMetric>, prost::DecodeError> {
    Ok(Payload::decode(bytes)?.metrics)
}

/// A command metric's value, for the log and the audit.
pub(crate) fn shown(m: &PbMetric) -> serde_json::Value {
    match &m.value {
        Some(PbValue::BooleanValue(b)) => (*b).into(),
        Some(PbValue::StringValue(s)) => s.clone().into(),
        Some(PbValue::DoubleValue(x)) => (*x).into(),
        Some(PbValue::FloatValue(x)) => f64::from(*x).into(),
        Some(PbValue::IntValue(x)) => (*x).into(),
        Some(PbValue::LongValue(x)) => (*x).into(),
        Some(PbValue::BytesValue(b)) => format!("{} bytes", b.len()).into(),
        None => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::metrics::AT_ONCE;

    #[test]
    fn ndeath_carries_bdseq_and_no_seq() {
        let p = Payload::decode(ndeath(7, 1000).as_slice()).unwrap();
        assert_eq!(p.seq, None);
        assert_eq!(p.timestamp, Some(1000));
        assert_eq!(p.metrics[0].name.as_deref(), Some("bdSeq"));
        assert_eq!(p.metrics[0].datatype, Some(DataType::UInt64 as u32));
        assert_eq!(p.metrics[0].value, Some(PbValue::LongValue(7)));
    }

    #[test]
    fn lists_are_little_endian_doubles_and_missing_values_null() {
        let mut s = Sample::new();
        s.insert(
            "Variables/home".into(),
            Point {
                kind: Kind::DoubleArray,
                value: Some(Scalar::F64s(vec![1.0, -0.5])),
                at_ms: 5,
                rule: AT_ONCE,
            },
        );
        s.insert(
            "Task/Id".into(),
            Point {
                kind: Kind::String,
                value: None,
                at_ms: 5,
                rule: AT_ONCE,
            },
        );
        let p = Payload::decode(dbirth(&s, 1, 9).as_slice()).unwrap();
        assert_eq!(p.seq, Some(1));
        let by = |n: &str| {
            p.metrics
                .iter()
                .find(|m| m.name.as_deref() == Some(n))
                .unwrap()
        };
        let mut bytes = 1.0f64.to_le_bytes().to_vec();
        bytes.extend((-0.5f64).to_le_bytes());
        assert_eq!(by("Variables/home").value, Some(PbValue::BytesValue(bytes)));
        assert_eq!(by("Variables/home").datatype, Some(31));
        assert_eq!(by("Task/Id").is_null, Some(true));
        assert_eq!(by("Task/Id").datatype, Some(12));
    }
}
