//! Integration tests: real `git push` into repositories where `pushbroker install` put the
//! hook, delivering to real HTTP and SMTP servers started by each test.

mod util;

mod broken_commits;
mod brokers;
mod chat;
mod chat_consumers;
mod check;
mod consumers;
mod custom;
mod custom_exit;
mod delivery;
mod email;
mod email_caps;
mod github;
mod hg;
mod hg_heads;
mod hook;
mod install;
mod log;
mod messages;
mod multimail;
mod new_commits;
mod order;
mod post;
mod queue;
mod reading;
mod smtp_tls;
mod spool;
mod test_event;
mod trust;
mod wal;
