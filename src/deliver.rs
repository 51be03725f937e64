//! Running a push's services: in parallel, one outcome per service.

use std::time::{Duration, Instant};

use crate::broker::{Delivery, Outcome};
use crate::event::Push;
use crate::service::Service;

/// What happened to one service's delivery.
#[derive(Debug)]
pub struct Report {
    /// The service's name.
    pub service: String,
    /// The broker's name.
    pub broker: String,
    /// The delivery id.
    pub delivery: String,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
}

/// Delivers `push` to every service at once (scoped threads: the hook's wall time is its
/// slowest service's, not the sum); reports in the services' order.
pub fn deliver_all(push: &Push, services: &[Service]) -> Vec<Report> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = services
            .iter()
            .map(|service| scope.spawn(move || deliver_one(push, service)))
            .collect();
        handles
            .into_iter()
            .zip(services)
            .map(|(handle, service)| {
                handle.join().unwrap_or_else(|_| Report {
                    service: service.name.clone(),
                    broker: service.broker_name.clone(),
                    delivery: String::new(),
                    outcome: Outcome::Failed("internal error (the broker panicked)".into()),
                    duration: Duration::ZERO,
                })
            })
            .collect()
    })
}

fn deliver_one(push: &Push, service: &Service) -> Report {
    let id = new_delivery_id();
    let started = Instant::now();
    let outcome = if service.wants(push) {
        service.broker.deliver(&delivery(push, service, &id))
    } else {
        Outcome::Skipped("no pushed ref matches its branches filter".into())
    };
    Report {
        service: service.name.clone(),
        broker: service.broker_name.clone(),
        delivery: id,
        outcome,
        duration: started.elapsed(),
    }
}

/// The delivery of `push` to `service` under the id `id`.
pub fn delivery<'a>(push: &'a Push, service: &'a Service, id: &'a str) -> Delivery<'a> {
    Delivery {
        id,
        push,
        service: &service.name,
        broker: &service.broker_name,
        options: &service.options,
        max_commits: service.max_commits,
    }
}

/// A fresh delivery id (a random UUID).
pub fn new_delivery_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
