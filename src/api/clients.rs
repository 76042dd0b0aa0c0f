//! One [`Client`] per provider of a configuration: each task's calls go to
//! the endpoint and project of the provider it names, with that endpoint's
//! own connection pool, credentials and request rate.

use super::{ApiError, ApiErrorKind, Client};
use crate::model::{TaskSpec, provider_label};
use std::collections::BTreeMap;

/// The clients by provider name (`None`: the unnamed `[provider]`). Cloning is cheap.
#[derive(Clone, Debug, Default)]
pub struct Clients {
    by_provider: BTreeMap<Option<String>, Client>,
}

impl Clients {
    pub fn new(by_provider: BTreeMap<Option<String>, Client>) -> Clients {
        Clients { by_provider }
    }

    /// The clients of a configuration with only the unnamed `[provider]`.
    pub fn single(client: Client) -> Clients {
        Clients::new(BTreeMap::from([(None, client)]))
    }

    /// The client of `provider`; an error names the provider the
    /// configuration no longer defines (a task recorded through it cannot be
    /// read or deleted until it is defined again).
    pub fn get(&self, provider: Option<&str>) -> Result<&Client, ApiError> {
        self.by_provider
            .get(&provider.map(str::to_string))
            .ok_or_else(|| {
                ApiError::new(ApiErrorKind::Setup, "provider").with_detail(format!(
                    "{} is not defined in the configuration",
                    provider_label(provider)
                ))
            })
    }

    /// The client of the provider `spec` names.
    pub fn of(&self, spec: &TaskSpec) -> Result<&Client, ApiError> {
        self.get(spec.provider.as_deref())
    }

    /// Every provider with its client, the unnamed one first.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &Client)> {
        self.by_provider.iter().map(|(n, c)| (n.as_deref(), c))
    }
}
