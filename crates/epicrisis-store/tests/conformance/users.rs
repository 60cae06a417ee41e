//! Users, sessions and API tokens: expiry, revocation, password changes and disabling.

use epicrisis_store::*;

use crate::common::*;

async fn check_users(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    let ana = store
        .add_user("ana", "Ana", Role::Medico, "hash1")
        .await
        .unwrap();
    assert_eq!((ana.role, ana.disabled), (Role::Medico, false));
    let m = is_conflict(store.add_user("ana", "Otra", Role::Admin, "h").await);
    assert!(m.contains("ana"), "{m}");
    let bob = store
        .add_user("bob", "Bob", Role::Administrativo, "h")
        .await
        .unwrap();
    assert_eq!(
        store
            .users()
            .await
            .unwrap()
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["ana", "bob"]
    );
    assert_eq!(
        store.user(bob.id).await.unwrap().unwrap().role,
        Role::Administrativo
    );
    assert!(store.user(99_999).await.unwrap().is_none());
    store.set_password("ana", "hash2", None).await.unwrap();
    assert_eq!(
        store
            .user_by_name("ana")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "hash2"
    );
    assert!(matches!(
        store.set_password("zoe", "h", None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_disabled("zoe", true).await,
        Err(StoreError::NotFound(_))
    ));

    // Sessions expire.
    store
        .create_session("s-live", ana.id, "csrf1", 2_000)
        .await
        .unwrap();
    store
        .create_session("s-old", ana.id, "csrf2", 1_000)
        .await
        .unwrap();
    store
        .create_session("s-bob", bob.id, "csrf3", 2_000)
        .await
        .unwrap();
    let (s, u) = store.session("s-live", 1_500).await.unwrap().unwrap();
    assert_eq!(
        (
            s.user_id,
            s.csrf.as_str(),
            s.expires_at,
            u.username.as_str()
        ),
        (ana.id, "csrf1", 2_000, "ana")
    );
    assert!(store.session("s-old", 1_500).await.unwrap().is_none());
    assert!(
        store.session("s-live", 2_000).await.unwrap().is_none(),
        "expired at expires_at"
    );
    assert!(store.session("nope", 0).await.unwrap().is_none());
    store.delete_session("s-bob").await.unwrap();
    assert!(store.session("s-bob", 1_500).await.unwrap().is_none());

    // API tokens: they work until they expire or are revoked.
    let far = 4_000_000_000_000;
    let t = store
        .add_api_token(ana.id, "ci", "tok-hash", far)
        .await
        .unwrap();
    assert!(t > 0);
    assert_eq!(
        store
            .api_token_user("tok-hash", 1)
            .await
            .unwrap()
            .unwrap()
            .id,
        ana.id
    );
    assert!(store.api_token_user("other", 1).await.unwrap().is_none());
    is_conflict(store.add_api_token(bob.id, "dup", "tok-hash", far).await);
    store
        .add_api_token(bob.id, "corto", "tok-short", 1_000)
        .await
        .unwrap();
    assert!(
        store
            .api_token_user("tok-short", 999)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .api_token_user("tok-short", 1_000)
            .await
            .unwrap()
            .is_none(),
        "expired at expires_at"
    );
    let bob_tok = store
        .add_api_token(bob.id, "his", "tok-bob", far)
        .await
        .unwrap();
    let all = store.api_tokens(None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].id, bob_tok, "newest first");
    let anas = store.api_tokens(Some(ana.id)).await.unwrap();
    assert_eq!(
        anas.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["ci"]
    );
    // Someone else's token cannot be revoked by its id; one's own can.
    assert!(matches!(
        store.revoke_api_token(bob_tok, Some(ana.id)).await,
        Err(StoreError::NotFound(_))
    ));
    let revoked = store.revoke_api_token(bob_tok, Some(bob.id)).await.unwrap();
    assert!(revoked.revoked_at.is_some() && !revoked.active(1));
    assert!(store.api_token_user("tok-bob", 1).await.unwrap().is_none());
    assert!(matches!(
        store.revoke_api_token(99_999, None).await,
        Err(StoreError::NotFound(_))
    ));

    // A password change ends the other sessions and revokes the tokens.
    store
        .create_session("s-bob-a", bob.id, "c", 5_000)
        .await
        .unwrap();
    store
        .create_session("s-bob-b", bob.id, "c", 5_000)
        .await
        .unwrap();
    store
        .add_api_token(bob.id, "his2", "tok-bob2", far)
        .await
        .unwrap();
    store
        .set_password("bob", "hash-b2", Some("s-bob-a"))
        .await
        .unwrap();
    assert!(store.session("s-bob-a", 1).await.unwrap().is_some());
    assert!(store.session("s-bob-b", 1).await.unwrap().is_none());
    assert!(store.api_token_user("tok-bob2", 1).await.unwrap().is_none());

    // Disabling ends sessions and revokes tokens, for good.
    store.set_disabled("ana", true).await.unwrap();
    assert!(store.user(ana.id).await.unwrap().unwrap().disabled);
    assert!(store.session("s-live", 1_500).await.unwrap().is_none());
    assert!(store.api_token_user("tok-hash", 1).await.unwrap().is_none());
    store.set_disabled("ana", false).await.unwrap();
    assert!(!store.user(ana.id).await.unwrap().unwrap().disabled);
    assert!(store.session("s-live", 1_500).await.unwrap().is_none());
    assert!(store.api_token_user("tok-hash", 1).await.unwrap().is_none());
    // A disabled user's fresh session is refused too.
    store
        .create_session("s-bob2", bob.id, "c", 5_000)
        .await
        .unwrap();
    store.set_disabled("bob", true).await.unwrap();
    store
        .create_session("s-bob3", bob.id, "c", 5_000)
        .await
        .unwrap();
    assert!(store.session("s-bob3", 1).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_sessions_and_tokens() {
    on_every_database!(check_users);
}
