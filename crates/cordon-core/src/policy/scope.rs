//! Slicing the policy set so a request evaluates only the policies that could match it.
//!
//! Cedar evaluates every policy in a set, at roughly half a microsecond each, so a
//! manifest with ten credentials would spend most of its time on policies about the
//! other nine. Each generated policy therefore records the structural facts its own
//! condition requires: which effects it names, which credential it compares against,
//! and which optional context attributes it tests with `has`. A request is evaluated
//! against the slice of policies whose requirements it meets.
//!
//! Only facts a policy's condition already *requires* are recorded, never a predicate
//! re-implemented in Rust (no host or glob matching here), so leaving a policy out of a
//! slice can never change a decision. User policies are in every slice.
//!
//! The policy text is built the other way round: its guard (action constraint,
//! credential comparison, `has` tests) is rendered from its [`Scope`] (`compile.rs`).
//! Every request of a slice that admits a policy therefore passes its guard, and the
//! slice holds the policy's *residual*, the policy without that guard.

use crate::action::{Action, Effect};

/// Optional context attributes a policy tests with `has` before anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Needs(u8);

impl Needs {
    pub const NONE: Needs = Needs(0);
    pub const HOST: Needs = Needs(1);
    pub const TOOL: Needs = Needs(1 << 1);
    pub const PATH: Needs = Needs(1 << 2);
    pub const RESOURCE_ENVIRONMENT: Needs = Needs(1 << 3);
    pub const RESOURCE_ID: Needs = Needs(1 << 4);
    pub const METHOD: Needs = Needs(1 << 5);
    pub const URL_PATH: Needs = Needs(1 << 6);

    pub const fn and(self, other: Needs) -> Needs {
        Needs(self.0 | other.0)
    }

    /// The context attributes these needs test with `has`, for rendering the guard.
    pub fn attributes(self) -> impl Iterator<Item = &'static str> {
        [
            (Needs::HOST, "host"),
            (Needs::TOOL, "tool"),
            (Needs::PATH, "path"),
            (Needs::RESOURCE_ENVIRONMENT, "resource_environment"),
            (Needs::RESOURCE_ID, "resource_id"),
            (Needs::METHOD, "method"),
            (Needs::URL_PATH, "url_path"),
        ]
        .into_iter()
        .filter(move |(flag, _)| flag.within(self) && *flag != Needs::NONE)
        .map(|(_, name)| name)
    }

    fn within(self, present: Needs) -> bool {
        self.0 & !present.0 == 0
    }

    /// The attributes `action` will put in the request context.
    pub fn present_in(action: &Action) -> Needs {
        let mut present = Needs::NONE;
        let target = action.target.as_ref();
        let flags = [
            (action.host.is_some(), Needs::HOST),
            (action.tool.is_some(), Needs::TOOL),
            (action.path.is_some(), Needs::PATH),
            (action.method.is_some(), Needs::METHOD),
            (action.url_path.is_some(), Needs::URL_PATH),
            (
                target.is_some_and(|t| t.environment.is_some()),
                Needs::RESOURCE_ENVIRONMENT,
            ),
            (target.is_some(), Needs::RESOURCE_ID),
        ];
        for (is_present, flag) in flags {
            if is_present {
                present = present.and(flag);
            }
        }
        present
    }
}

/// Which requests' credential a policy is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum CredentialScope {
    /// Any request, with or without a credential.
    #[default]
    Any,
    /// Only requests using this declared credential.
    Named(String),
    /// Only requests naming a credential the manifest does not declare.
    Undeclared,
}

/// What a policy's condition requires of a request.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `None`: any effect. Otherwise the Cedar actions the policy's scope names.
    pub effects: Option<Vec<Effect>>,
    pub credential: CredentialScope,
    pub needs: Needs,
}

impl Scope {
    pub fn always() -> Scope {
        Scope::default()
    }

    pub fn effects(effects: &[Effect]) -> Scope {
        Scope {
            effects: Some(effects.to_vec()),
            ..Scope::default()
        }
    }

    pub fn needs(needs: Needs) -> Scope {
        Scope {
            needs,
            ..Scope::default()
        }
    }

    pub fn with_needs(mut self, needs: Needs) -> Scope {
        self.needs = self.needs.and(needs);
        self
    }

    pub fn with_credential(mut self, credential: CredentialScope) -> Scope {
        self.credential = credential;
        self
    }

    /// `credentials` are the declared names a key's `Declared` index points into.
    pub fn admits(&self, key: &SliceKey, credentials: &[String]) -> bool {
        let effect_ok = self
            .effects
            .as_ref()
            .is_none_or(|effects| effects.contains(&key.effect));
        let credential_ok = match (&self.credential, &key.credential) {
            (CredentialScope::Any, _) => true,
            (CredentialScope::Named(name), CredentialSlot::Declared(used)) => {
                credentials.get(*used) == Some(name)
            }
            (CredentialScope::Undeclared, CredentialSlot::Undeclared) => true,
            _ => false,
        };
        effect_ok && credential_ok && self.needs.within(key.present)
    }
}

/// How a request uses credentials, as far as slicing cares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CredentialSlot {
    None,
    /// Index into the engine's sorted list of declared credential names.
    Declared(usize),
    Undeclared,
}

/// Requests with the same key are evaluated against the same slice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SliceKey {
    pub effect: Effect,
    pub credential: CredentialSlot,
    pub present: Needs,
}
