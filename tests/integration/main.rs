//! End-to-end tests of the `catchup` binary. One test binary (faster to
//! build than one per file); see `tests/README.md` for how to add a case.

// The support modules are shared by the test files of this one binary.
#![allow(unreachable_pub)]

mod support;

mod architecture;

mod bounces;
mod browser;
mod check;
mod clients;
mod corpus;
mod cron;
mod dkim;
mod doctor;
mod due;
mod editor;
mod exit_codes;
mod hostile;
mod items;
mod preview;
mod readers;
mod relays;
mod send;
mod signup;
mod stops;
mod stories;
mod tls;
mod web;
