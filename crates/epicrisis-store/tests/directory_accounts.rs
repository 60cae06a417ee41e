//! Accounts of the hospital's directory, on both databases: created and refreshed at each
//! login, never given a local password, disabled by the directory and enabled again by
//! it, while an administrator's disabling stays.

use epicrisis_store::*;

#[macro_use]
mod common;
use common::*;

fn account<'a>(username: &'a str, role: Role, dn: &'a str) -> DirectoryAccount<'a> {
    DirectoryAccount {
        username,
        display_name: "Dra. Ana Pérez",
        role,
        dn,
    }
}

async fn check_directory_accounts(db: &Db) {
    let store = Store::open(&db.url).await.unwrap();
    let dn = "uid=ana,ou=personas,dc=hospital,dc=cl";
    let first = store
        .sync_directory_user(&account("ana", Role::Medico, dn))
        .await
        .unwrap();
    assert!(first.created && first.previous_role.is_none());
    let u = &first.user;
    assert_eq!(
        (u.source, u.role, u.disabled, u.display_name.as_str()),
        (UserSource::Directory, Role::Medico, false, "Dra. Ana Pérez")
    );
    assert_eq!(u.password_hash, NO_PASSWORD);
    // The role follows the groups at each login.
    let again = store
        .sync_directory_user(&account("ana", Role::Admin, dn))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.previous_role, Some(Role::Medico));
    assert_eq!((again.user.id, again.user.role), (u.id, Role::Admin));
    // No local password for a directory account.
    let refused = store.set_password("ana", "$argon2id$x", None).await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("directorio")),
        "{refused:?}"
    );
    // The directory disables it (its sessions end) and a later login enables it again.
    store
        .create_session("s-ana", u.id, "c", i64::MAX)
        .await
        .unwrap();
    assert!(store.disable_directory_user("ana").await.unwrap());
    assert!(!store.disable_directory_user("ana").await.unwrap(), "once");
    assert!(store.session("s-ana", 0).await.unwrap().is_none());
    let back = store
        .sync_directory_user(&account("ana", Role::Medico, dn))
        .await
        .unwrap();
    assert!(!back.user.disabled);
    // An administrator's disabling stays through directory logins.
    store.set_disabled("ana", true).await.unwrap();
    let still = store
        .sync_directory_user(&account("ana", Role::Medico, dn))
        .await
        .unwrap();
    assert!(still.user.disabled);
    // A local account is never taken over, nor disabled by the directory.
    store
        .add_user("urgencia", "Urgencia", Role::Admin, "$argon2id$x")
        .await
        .unwrap();
    let taken = store
        .sync_directory_user(&account("urgencia", Role::Medico, dn))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    assert!(!store.disable_directory_user("urgencia").await.unwrap());
    let local = store.user_by_name("urgencia").await.unwrap().unwrap();
    assert_eq!(
        (local.source, local.role, local.disabled),
        (UserSource::Local, Role::Admin, false)
    );
    store
        .set_password("urgencia", "$argon2id$y", None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_accounts_follow_the_directory() {
    on_every_database!(check_directory_accounts);
}
