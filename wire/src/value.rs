//! The node's result values as NebulaGraph's wire values, and its timestamps as NebulaGraph's
//! calendar `DateTime` in UTC, with the civil-from-days conversion written here (Howard
//! Hinnant's algorithm, proleptic Gregorian calendar) so no date crate is needed.

use graphsession_core::node::{DataSet, Value};
use nebula_fbthrift_common_v3::double::Double;
use nebula_fbthrift_common_v3::types::{
    DataSet as WireDataSet, DateTime, NullType, Row, Value as WireValue,
};

/// Microseconds in a day.
const DAY_US: u64 = 86_400_000_000;
/// Days from 0000-03-01 to 1970-01-01 (the algorithm counts from a March 1st).
const EPOCH_SHIFT_DAYS: i64 = 719_468;
/// Days in 400 Gregorian years.
const ERA_DAYS: i64 = 146_097;

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    /// The year (astronomical: 0 is 1 BC).
    pub year: i32,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
}

/// The Gregorian date `days_since_epoch` days after 1970-01-01 (before it when negative).
#[must_use]
pub fn civil_from_days(days_since_epoch: i32) -> CivilDate {
    let shifted = i64::from(days_since_epoch) + EPOCH_SHIFT_DAYS;
    let era = shifted.div_euclid(ERA_DAYS);
    let day_of_era = shifted.rem_euclid(ERA_DAYS); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11], March is 0
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    CivilDate {
        // |days_since_epoch| < 2^31 keeps the year within ±5.9 million: it fits.
        year: i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX }),
        month: u8::try_from(month).unwrap_or(1),
        day: u8::try_from(day).unwrap_or(1),
    }
}

/// NebulaGraph's `DateTime` (UTC) of a Unix timestamp in microseconds. Years past 32767 (the
/// wire's `i16`; from about 584,000 years of microseconds) become 32767-12-31T23:59:59.999999.
#[must_use]
pub fn wire_date_time(unix_us: u64) -> DateTime {
    let date = civil_from_days(i32::try_from(unix_us / DAY_US).unwrap_or(i32::MAX));
    let Ok(year) = i16::try_from(date.year) else {
        return DateTime {
            year: i16::MAX,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            sec: 59,
            microsec: 999_999,
            ..Default::default()
        };
    };
    let in_day_us = unix_us % DAY_US;
    let seconds = in_day_us / 1_000_000;
    DateTime {
        year,
        month: small(date.month),
        day: small(date.day),
        hour: small(seconds / 3_600),
        minute: small(seconds / 60 % 60),
        sec: small(seconds % 60),
        microsec: i32::try_from(in_day_us % 1_000_000).unwrap_or(0),
        ..Default::default()
    }
}

/// A calendar or clock field (always below 60, so it fits).
fn small(part: impl TryInto<i8>) -> i8 {
    part.try_into().unwrap_or(0)
}

/// A result value on the wire (null is NebulaGraph's plain `__NULL__`).
#[must_use]
pub fn wire_value(value: &Value) -> WireValue {
    match value {
        Value::Null => WireValue::nVal(NullType(0)),
        Value::Bool(flag) => WireValue::bVal(*flag),
        Value::Int(int) => WireValue::iVal(*int),
        Value::Float(float) => WireValue::fVal(Double(*float)),
        Value::Str(text) => WireValue::sVal(text.as_bytes().to_vec()),
        Value::DateTime { unix_us } => WireValue::dtVal(wire_date_time(*unix_us)),
    }
}

/// A result set on the wire.
#[must_use]
pub fn wire_data_set(data: &DataSet) -> WireDataSet {
    WireDataSet {
        column_names: data.column_names.iter().map(|name| name.as_bytes().to_vec()).collect(),
        rows: (data.rows.iter())
            .map(|row| Row { values: row.iter().map(wire_value).collect(), ..Default::default() })
            .collect(),
        ..Default::default()
    }
}
