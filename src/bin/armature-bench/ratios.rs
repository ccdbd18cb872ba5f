//! The rows that set a plugin figure beside its floor measured in the same run, and the
//! floors' own rows.

use super::disk::Syncs;
use super::floor::Floors;
use super::ms;
use super::plugin::{Loaded, Quiet};
use super::report::Row;

/// The motion-call ack beside the minimal rmcp server's no-op call, timed between the acks
/// (the same moments of the machine), plus one fdatasync on a preallocated file, timed
/// alone (between the acks it would share the disk with the plugin's own writes): the least
/// an ack that is on disk before it is sent can cost.
pub fn ack(q: &Quiet, floors: &Result<Floors, String>, syncs: &Result<Syncs, String>) -> Row {
    let figure = format!(
        "motion-call ack latency, rmcp client over HTTP ({} calls)",
        q.ack_ms.n
    );
    let armature = Some(format!(
        "{}, {} refused; inside the plugin p50 {:.2} / p99 {:.2} ms",
        ms(&q.ack_ms),
        q.ack_errors,
        q.ack_inside_ms.p50,
        q.ack_inside_ms.p99
    ));
    let target = "p99 ≤ 1.3 × (minimal rmcp p99 + preallocated fdatasync p99)";
    match syncs {
        Ok(s) => {
            let rmcp = &q.ack_floor_rmcp_ms;
            let floor = rmcp.p99 + s.zeroed_ms.p99;
            let ratio = q.ack_ms.p99 / floor.max(1e-6);
            // The floor called back to back is lower (its threads stay warm); said beside.
            let back_to_back = floors
                .as_ref()
                .map(|f| {
                    let b = f.rmcp_ms.p99 + s.zeroed_ms.p99;
                    format!(
                        "; with the server's back-to-back p99 {:.2} ms instead: {b:.2} ms, ratio {:.2}",
                        f.rmcp_ms.p99,
                        q.ack_ms.p99 / b.max(1e-6)
                    )
                })
                .unwrap_or_default();
            let reference = format!(
                "minimal rmcp server between the acks p50 {:.2} / p99 {:.2} ms + fdatasync on a preallocated file p99 {:.2} ms = {floor:.2} ms{back_to_back}",
                rmcp.p50, rmcp.p99, s.zeroed_ms.p99
            );
            let met = ratio <= 1.3 && q.ack_errors == 0;
            Row::beside(figure, armature, reference, ratio, target, met)
        }
        Err(e) => Row::unreferenced(figure, armature, target, format!("no floor: {e}")),
    }
}

/// `task_status` under load beside the minimal server's no-op call under the same load, the
/// two taking turns by the second while the arm moves.
pub fn status(l: &Loaded, clients: usize, rate: f64) -> Row {
    let figure = format!("task_status while moving, {clients} clients, {rate:.0} req/s");
    let armature = Some(format!(
        "{}, {} errors, {:.0} req/s achieved; inside the plugin p50 {:.3} / p99 {:.3} ms",
        ms(&l.status_ms),
        l.errors,
        l.achieved_rate,
        l.status_inside_ms.p50,
        l.status_inside_ms.p99
    ));
    let target = "p99 ≤ 1.3 × the minimal server's p99 under the same load, 0 errors";
    let ratio = l.status_ms.p99 / l.floor_ms.p99.max(1e-6);
    let reference = format!(
        "minimal rmcp server, no-op tool, same load in alternate seconds: {}, {} errors",
        ms(&l.floor_ms),
        l.floor_errors
    );
    let met = ratio <= 1.3 && l.errors == 0;
    Row::beside(figure, armature, reference, ratio, target, met)
}

/// The floors' own rows: the MCP layer's cost over a bare handler, and the disk's syncs.
pub fn floors(floors: &Result<Floors, String>, syncs: &Result<Syncs, String>) -> Vec<Row> {
    let mut rows = vec![];
    match floors {
        Ok(f) => rows.extend([
            Row {
                figure:
                    "floor: minimal rmcp server, one no-op tool, same transport mode as the plugin"
                        .into(),
                armature: Some(ms(&f.rmcp_ms)),
                reference: format!(
                    "bare axum handler answering the same JSON, same client: {}",
                    ms(&f.axum_ms)
                ),
                ratio: Some(f.rmcp_ms.p50 / f.axum_ms.p50.max(1e-6)),
                target: "reported: the MCP layer's own cost (p50 ratio)".into(),
                met: None,
                error: None,
            },
            Row {
                figure:
                    "floor: the same server, stateless and answering plain JSON (`json_response`)"
                        .into(),
                armature: Some(ms(&f.rmcp_json_ms)),
                reference: format!(
                    "the plugin's mode (sessions, SSE answers): {}",
                    ms(&f.rmcp_ms)
                ),
                ratio: Some(f.rmcp_json_ms.p50 / f.rmcp_ms.p50.max(1e-6)),
                target: "reported (p50 ratio)".into(),
                met: None,
                error: None,
            },
        ]),
        Err(e) => rows.push(Row::failed(
            "floor: minimal rmcp server and bare axum handler",
            "reported",
            e.clone(),
        )),
    }
    match syncs {
        Ok(s) => rows.push(Row {
            figure: "floor: write + fdatasync on the state directory's disk, preallocated file"
                .into(),
            armature: Some(format!(
                "zeros written once {}; posix_fallocate {}",
                ms(&s.zeroed_ms),
                ms(&s.fallocated_ms)
            )),
            reference: format!("a growing file: {}", ms(&s.growing_ms)),
            ratio: Some(s.zeroed_ms.p50 / s.growing_ms.p50.max(1e-6)),
            target: "reported (p50 ratio, zeros over growing)".into(),
            met: None,
            error: None,
        }),
        Err(e) => rows.push(Row::failed(
            "floor: write + fdatasync on the state directory's disk",
            "reported",
            e.clone(),
        )),
    }
    rows
}
