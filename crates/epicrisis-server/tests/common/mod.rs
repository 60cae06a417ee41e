//! What the server's integration tests share.
#![allow(dead_code)]

use epicrisis_store::{Role, Store};

/// A new account with `role` and an API token for it (the password is never used);
/// returns the user's id and the token.
pub async fn account_with_token(store: &Store, name: &str, role: Role) -> (i64, String) {
    let user = store
        .add_user(name, name, role, "$argon2id$not-used-here")
        .await
        .unwrap();
    let token = epicrisis_server::auth::random_token().unwrap();
    store
        .add_api_token(
            user.id,
            "test",
            &epicrisis_server::auth::token_hash(&token),
            i64::MAX,
        )
        .await
        .unwrap();
    (user.id, token)
}
