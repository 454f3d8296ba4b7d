//! Entra ID sign-in logs (placeholder until the parser lands).
use super::{Input, Item, ParseContext, Source};

pub struct EntraSignin;

impl Source for EntraSignin {
    fn id(&self) -> &'static str {
        "entra_signin"
    }
    fn name(&self) -> &'static str {
        "Entra ID sign-in logs"
    }
    fn sniff(&self, _head: &str) -> u8 {
        0
    }
    fn parse(&self, _input: &Input, _ctx: &ParseContext, _out: &mut dyn FnMut(Item)) {}
}
