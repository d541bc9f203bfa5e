//! The civil-from-days conversion and NebulaGraph's `DateTime` of a Unix timestamp: checked
//! day by day against a counting model over seven centuries, and at the edges that break
//! date code (the epoch, leap days, 1900 and 2100 that are not leap years, 2000 that is, the
//! wire's largest year).
#![allow(clippy::unwrap_used, reason = "a test: a failed unwrap is a failed test")]

use graphsession_wire::nebula_common::types::DateTime;
use graphsession_wire::{CivilDate, civil_from_days, wire_date_time};
use proptest::prelude::*;

const DAY_US: u64 = 86_400_000_000;

fn date(year: i32, month: u8, day: u8) -> CivilDate {
    CivilDate { year, month, day }
}

/// The obviously correct model: the Gregorian rules, one day at a time.
fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn next_day(date: CivilDate) -> CivilDate {
    if date.day < days_in_month(date.year, date.month) {
        CivilDate { day: date.day + 1, ..date }
    } else if date.month < 12 {
        CivilDate { month: date.month + 1, day: 1, ..date }
    } else {
        CivilDate { year: date.year + 1, month: 1, day: 1 }
    }
}

#[test]
fn every_day_from_1600_to_2400_matches_the_counting_model() {
    // 1600-01-01 is 135,140 days before the epoch.
    let mut model = date(1600, 1, 1);
    for days in -135_140..157_054 {
        assert_eq!(civil_from_days(days), model, "day {days}");
        model = next_day(model);
    }
    assert_eq!(model, date(2400, 1, 1));
}

#[test]
fn the_epoch_and_the_days_around_it() {
    assert_eq!(civil_from_days(0), date(1970, 1, 1));
    assert_eq!(civil_from_days(-1), date(1969, 12, 31));
    assert_eq!(civil_from_days(1), date(1970, 1, 2));
    assert_eq!(civil_from_days(-719_468), date(0, 3, 1));
}

#[test]
fn leap_days_of_2000_and_2024_exist() {
    assert_eq!(civil_from_days(11_016), date(2000, 2, 29));
    assert_eq!(civil_from_days(11_017), date(2000, 3, 1));
    assert_eq!(civil_from_days(19_782), date(2024, 2, 29));
}

#[test]
fn years_1900_and_2100_have_no_leap_day() {
    assert_eq!(civil_from_days(-25_509), date(1900, 2, 28));
    assert_eq!(civil_from_days(-25_508), date(1900, 3, 1));
    assert_eq!(civil_from_days(47_540), date(2100, 2, 28));
    assert_eq!(civil_from_days(47_541), date(2100, 3, 1));
    assert_eq!(civil_from_days(47_846), date(2100, 12, 31));
    assert_eq!(civil_from_days(47_847), date(2101, 1, 1));
}

fn date_time(ymd: (i16, i8, i8), hms: (i8, i8, i8), microsec: i32) -> DateTime {
    DateTime {
        year: ymd.0,
        month: ymd.1,
        day: ymd.2,
        hour: hms.0,
        minute: hms.1,
        sec: hms.2,
        microsec,
        ..Default::default()
    }
}

#[test]
fn date_times_at_the_epoch_and_a_leap_day() {
    assert_eq!(wire_date_time(0), date_time((1970, 1, 1), (0, 0, 0), 0));
    assert_eq!(wire_date_time(DAY_US - 1), date_time((1970, 1, 1), (23, 59, 59), 999_999));
    let leap_day_end = 11_017 * DAY_US - 1;
    assert_eq!(wire_date_time(leap_day_end), date_time((2000, 2, 29), (23, 59, 59), 999_999));
    assert_eq!(wire_date_time(leap_day_end + 1), date_time((2000, 3, 1), (0, 0, 0), 0));
    // 2023-11-14T22:13:20.123456Z.
    let at = 1_700_000_000_123_456;
    assert_eq!(wire_date_time(at), date_time((2023, 11, 14), (22, 13, 20), 123_456));
}

#[test]
fn date_times_past_the_wires_largest_year_are_clamped() {
    let last = date_time((32_767, 12, 31), (23, 59, 59), 999_999);
    // 32768-01-01 is 11,248,738 days after the epoch.
    let first_unrepresentable_us = 11_248_738 * DAY_US;
    assert_eq!(wire_date_time(first_unrepresentable_us - 1), last);
    assert_eq!(wire_date_time(first_unrepresentable_us), last);
    assert_eq!(wire_date_time(u64::MAX), last);
}

proptest! {
    /// Any timestamp: the fields are in range, and the date is the model's date of its day.
    #[test]
    fn date_times_are_well_formed(unix_us in 0_u64..11_248_738 * DAY_US) {
        let at = wire_date_time(unix_us);
        let days = i32::try_from(unix_us / DAY_US).unwrap();
        let civil = civil_from_days(days);
        prop_assert_eq!(i32::from(at.year), civil.year);
        prop_assert_eq!((at.month, at.day), (i8::try_from(civil.month).unwrap(), i8::try_from(civil.day).unwrap()));
        prop_assert!((0..24).contains(&at.hour) && (0..60).contains(&at.minute) && (0..60).contains(&at.sec));
        let in_day = u64::try_from(at.hour).unwrap() * 3_600_000_000
            + u64::try_from(at.minute).unwrap() * 60_000_000
            + u64::try_from(at.sec).unwrap() * 1_000_000
            + u64::try_from(at.microsec).unwrap();
        prop_assert_eq!(in_day, unix_us % DAY_US);
    }

    /// Consecutive days are consecutive dates.
    #[test]
    fn consecutive_days_are_the_models_next_day(days in -2_000_000_000_i32..2_000_000_000) {
        prop_assert_eq!(civil_from_days(days + 1), next_day(civil_from_days(days)));
    }
}
