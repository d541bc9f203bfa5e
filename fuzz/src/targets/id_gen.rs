//! Session and plan ids under the lease protocol: the uniqueness property tests' id world
//! (`id-gen/tests/support/world.rs`) driven by fuzzer bytes (clock ticks, NTP steps, bursts,
//! restarts with persisted floors, in every id mode); every id must be unique, positive, open to
//! its slot and lie inside its lease. Also opens arbitrary 64-bit values with every codec: any
//! value gives a decoded id or a typed error.

use arbitrary::{Result, Unstructured};
use graphsession_id_gen::{Layout, SealKey, SessionIdCodec};

use super::{index, list, within};

#[path = "../../../id-gen/tests/support/world.rs"]
#[allow(
    clippy::unwrap_used,
    reason = "the shared test model: a failed unwrap is a broken property"
)]
mod world;

use world::{HOUR_MS, Mode, Op};

/// Bounds the work of one input: a burst issues up to 10,000 ids.
const OPS_MAX: usize = 24;

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    Ok(match index(u, 5)? {
        0 => Op::Tick(within(u, 0..=49)?),
        1 => Op::ClockStep { slot: index(u, 3)?, delta_ms: within(u, -2 * HOUR_MS..=2 * HOUR_MS)? },
        2 => Op::ClockStep { slot: index(u, 3)?, delta_ms: within(u, -1..=1)? },
        3 => Op::Burst { slot: index(u, 3)?, count: within(u, 1..=9_999)? },
        _ => Op::Restart { slot: index(u, 3)? },
    })
}

/// The target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(choice) = index(&mut u, 3) else { return };
    let (mode, slots): (Mode, &[u16]) = match choice {
        0 => (Mode::Unsealed, &[0, 1, 1023]),
        1 => (Mode::Sealed, &[5, 6, 7]),
        _ => (Mode::JsSafe, &[0, 100, 255]),
    };
    let raws = list(&mut u, 8, |u| u.arbitrary::<i64>());
    open_anything(&raws);
    let ops = list(&mut u, OPS_MAX, op);
    if let Err(broken) = world::run(mode, slots, &ops) {
        panic!("id world {mode:?} on {ops:?}: {broken}");
    }
}

/// Any value opens to a decoded id or a typed error, under every codec.
fn open_anything(raws: &[i64]) {
    let key = SealKey::from_bytes(*b"fuzzing-the-ids!");
    let codecs = [
        SessionIdCodec::unsealed(Layout::SESSION),
        SessionIdCodec::sealed(Layout::SESSION, key),
        SessionIdCodec::unsealed(Layout::JS_SAFE),
        SessionIdCodec::sealed(Layout::JS_SAFE, key),
    ];
    for codec in codecs {
        for &raw in raws {
            let opened = codec.open(raw);
            assert_eq!(opened, codec.open(raw), "opening {raw} is not deterministic");
        }
    }
}
