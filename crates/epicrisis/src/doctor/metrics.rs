//! The «metrics» check: where Prometheus reads `/metrics` and whether the token file and
//! the separate address work (see `config::ObservabilitySettings`).

use super::{Check, Verdict, check, io_text};
use crate::config::Config;

pub(super) fn metrics_check(config: &Config) -> Check {
    let o = &config.observability;
    if let Err(crate::Failure::Input(m)) = o.metrics_token() {
        return check(
            "metrics",
            Verdict::Fail,
            m,
            "escriba el token en el archivo: `openssl rand -hex 32 > ARCHIVO`, legible por el \
             usuario del servicio",
        );
    }
    let token = o.metrics_token_file.is_some();
    let mut detail = match token {
        true => "/metrics en el puerto del servidor, con el token de EPICRISIS_METRICS_TOKEN_FILE \
                 o un token de API de una cuenta admin"
            .to_string(),
        false => "/metrics en el puerto del servidor, con un token de API de una cuenta admin"
            .to_string(),
    };
    let Some(addr) = o.metrics_listen else {
        return check("metrics", Verdict::Ok, detail, "");
    };
    match std::net::TcpListener::bind(addr) {
        Ok(_) => {
            detail.push_str(&format!(
                "; también en http://{addr}/metrics{}",
                if token {
                    ", con el token"
                } else {
                    ", sin token"
                }
            ));
            check("metrics", Verdict::Ok, detail, "")
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => check(
            "metrics",
            Verdict::Warn,
            format!(
                "{addr} (EPICRISIS_METRICS_LISTEN) está en uso: un servidor en ejecución u otro programa"
            ),
            "si no es un `epicrisis serve` o `worker` de esta instalación, elija otro puerto",
        ),
        Err(e) => check(
            "metrics",
            Verdict::Fail,
            format!(
                "no se puede escuchar en {addr} (EPICRISIS_METRICS_LISTEN): {}",
                io_text(&e)
            ),
            "use una dirección de esta máquina, p. ej. 127.0.0.1:9464",
        ),
    }
}
