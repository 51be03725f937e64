//! Integration tests: real `git push` into repositories where `pushbroker install` put the
//! hook, delivering to real HTTP and SMTP servers started by each test.

mod util;

mod chat;
mod check;
mod custom;
mod delivery;
mod email;
mod email_caps;
mod github;
mod hg;
mod hook;
mod install;
mod new_commits;
mod post;
mod reading;
mod smtp_tls;
