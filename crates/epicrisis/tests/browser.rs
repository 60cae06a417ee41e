//! The web interface in headless Chromium (WebDriver over loopback) against the real
//! binary: a physician's whole review on a desktop (1366 px) and a phone (390 px) —
//! nothing wider than the screen, Spanish only, the stage of a draft and one job per
//! episode after a reload, the signed version printable after an amendment, the print
//! style, a wrong drug code ranked first and shown at signing. Screenshots are kept under
//! the target's `tmp/screenshots/` for a person to look at.

use serde_json::{Value, json};
use std::time::Duration;

mod common;
use common::browser::Driver;
use common::server::{PASSWORD, Session, add_user, login, serve};
use common::{model_fixture, testdata};

const EPISODE: &str = "1416169";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    add_user(dir.path(), "ana", "medico", "Dra. Ana Pérez");
    add_user(dir.path(), "caja", "administrativo", "Caja Uno");
    dir
}

fn import(s: &Session) {
    let bytes = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
    let r = s.post_bytes("/api/v1/episodes", bytes);
    assert_eq!(r.status(), 201);
}

#[test]
fn browser_login_generate_flag_fix_approve_and_history() {
    let Some(d) = Driver::start() else { return };
    let dir = setup();
    add_user(dir.path(), "jefa", "admin", "Jefa TI");
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    import(&login(&srv.url, "ana"));
    d.sign_in(&srv.url, "ana", PASSWORD);
    d.screenshot("1-lista");
    d.go(&format!("{}/episodios/{EPISODE}", srv.url));
    d.click("#generate");
    d.wait_for("the first version", "return (document.getElementById('version-badge')||{}).textContent?.includes('versión 1') === true");
    d.wait_for(
        "the findings",
        "return document.getElementById('finding-count').textContent.length > 0",
    );
    d.screenshot("2-borrador");
    // «Respaldo»: putting the caret in a sentence of the text lists what supports it
    // (the page, opened again, carries the stored evidence of the draft).
    d.go(&format!("{}/episodios/{EPISODE}", srv.url));
    d.script(
        "const ev=JSON.parse(document.getElementById('initial-evidence').textContent);
         const s=ev.find(x=>x.checked&&x.passages.length>0); window.__passage=s.passages[0].text.slice(0,20);
         const e=document.getElementById('editor'); const at=Array.from(e.value).slice(0,s.span[0]+2).join('').length;
         e.focus(); e.setSelectionRange(at, at); e.dispatchEvent(new KeyboardEvent('keyup', {key: 'ArrowRight'}));",
    );
    d.wait_for(
        "the evidence of the sentence at the caret (a passage)",
        "return /Nota del día \\d+: «/.test(document.getElementById('evidence').textContent) && document.getElementById('evidence').textContent.includes(window.__passage)",
    );
    d.script("document.getElementById('evidence').scrollIntoView({block: 'center', behavior: 'instant'});");
    d.screenshot("8-respaldo-pasaje");
    d.script(
        "const ev=JSON.parse(document.getElementById('initial-evidence').textContent);
         const s=ev.find(x=>x.checked&&x.items.length>0); window.__want=s.items[0].label+': '+s.items[0].name;
         const e=document.getElementById('editor'); const at=Array.from(e.value).slice(0,s.span[0]+1).join('').length;
         e.focus(); e.setSelectionRange(at, at); e.dispatchEvent(new KeyboardEvent('keyup', {key: 'ArrowRight'}));",
    );
    d.wait_for(
        "the evidence of the sentence at the caret",
        "return document.getElementById('evidence').textContent.includes(window.__want)",
    );
    // An invented sentence that names no drug or diagnosis: amber (a sentence
    // without evidence), and the panel says nothing supports it.
    d.script("const e=document.getElementById('editor'); e.focus(); e.setSelectionRange(e.value.length, e.value.length);");
    d.type_into(
        "#editor",
        "\nLa familia solicitó traslado a otro centro por motivos personales.",
    );
    d.wait_for("the amber mark", "return [...document.querySelectorAll('#highlighted mark.warning')].some(m => m.textContent.includes('motivos personales'))");
    d.wait_for(
        "no evidence",
        "return document.getElementById('evidence').textContent.includes('Sin respaldo en las notas ni en los datos')",
    );
    d.script("document.getElementById('evidence').scrollIntoView({block: 'center'});");
    d.screenshot("8-respaldo");
    d.script("const e=document.getElementById('editor'); e.value = e.value.replace(/\\nLa familia solicitó traslado[^\\n]*/, ''); e.dispatchEvent(new Event('input'));");
    d.wait_for(
        "the amber mark gone",
        "return ![...document.querySelectorAll('#highlighted mark')].some(m => m.textContent.includes('motivos personales'))",
    );
    // Type an invented drug at the end: it is highlighted in red.
    d.script("const e=document.getElementById('editor'); e.focus(); e.setSelectionRange(e.value.length, e.value.length);");
    d.type_into("#editor", "\nSe indica warfarina 5 mg VO cada 24 horas.");
    // The whole claim is marked, dose included, in the text being edited.
    d.wait_for("the red mark", "return [...document.querySelectorAll('#highlighted mark.error')].some(m => m.textContent === 'warfarina 5 mg VO cada 24 horas')");
    // The finding, chosen in the list, selects its words in the editor and explains.
    d.script("[...document.querySelectorAll('#findings button')].find(b => b.textContent.includes('warfarina')).click()");
    d.wait_for(
        "the explanation",
        "return !document.getElementById('finding-detail').hidden && document.getElementById('finding-detail').textContent.includes('medicamento')",
    );
    assert_eq!(
        d.script("const e=document.getElementById('editor'); return e.value.slice(e.selectionStart, e.selectionEnd)"),
        json!("warfarina 5 mg VO cada 24 horas")
    );
    d.screenshot("3-hallazgo");
    // Fix it: remove the sentence, save, approve and sign.
    d.script("const e=document.getElementById('editor'); e.value = e.value.replace(/\\nSe indica warfarina[^\\n]*/, '\\nPaciente se va de alta en buenas condiciones.'); e.dispatchEvent(new Event('input'));");
    d.wait_for(
        "no red marks",
        "return document.querySelectorAll('#highlighted mark.error').length === 0",
    );
    d.click("#save");
    d.wait_for("version 2", "return (document.getElementById('version-badge')||{}).textContent?.includes('versión 2') === true");
    d.click("#sign");
    std::thread::sleep(Duration::from_millis(300));
    d.accept_dialogs();
    d.wait_for("the signature", "return (document.getElementById('version-badge')||{}).textContent?.includes('firmada') === true");
    d.screenshot("4-firmada");
    // History: three versions; the differences of the edit are shown.
    d.wait_for(
        "three versions",
        "return document.querySelectorAll('#versions button.version').length === 3",
    );
    d.script("[...document.querySelectorAll('#versions button.version')].find(b => b.textContent.includes('Versión 2')).click()");
    d.wait_for(
        "the differences",
        "return document.querySelectorAll('#diff ins').length > 0",
    );
    let inserted = d.script(
        "return [...document.querySelectorAll('#diff ins')].map(x => x.textContent).join(' ')",
    );
    assert!(
        inserted.as_str().unwrap().contains("buenas condiciones"),
        "{inserted}"
    );
    d.screenshot("5-historial");
    // Keyboard only: a signed text is read-only; Tab reaches «Enmendar» and Enter opens
    // it for an amendment.
    d.go(&format!("{}/episodios/{EPISODE}", srv.url));
    assert_eq!(
        d.script("return document.getElementById('editor').readOnly"),
        json!(true)
    );
    let mut reached = false;
    for _ in 0..80 {
        d.key("\u{E004}");
        if d.script("return document.activeElement && document.activeElement.id === 'amend'")
            == Value::Bool(true)
        {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached the amend button");
    d.key("\u{E007}");
    d.wait_for(
        "an answer to the keyboard",
        "return document.getElementById('save-status').textContent.includes('Enmienda') && !document.getElementById('editor').readOnly",
    );
    // A tablet (820 px wide): one column, nothing wider than the screen.
    d.resize(820, 1180);
    d.go(&format!("{}/episodios/{EPISODE}", srv.url));
    d.wait_for(
        "the page at tablet width",
        "return document.documentElement.scrollWidth <= window.innerWidth + 1",
    );
    d.screenshot("6-tableta");
    // A medico has no administration link, and the page refuses them.
    assert_eq!(
        d.script("return document.getElementById('admin-link') === null"),
        Value::Bool(true)
    );
    d.go(&format!("{}/administracion", srv.url));
    d.wait_for(
        "the refusal",
        "return document.body.textContent.includes('(403)')",
    );
    // An admin sees the link and the page, and adds an account from the keyboard.
    d.resize(1280, 1000);
    d.go(&format!("{}/episodios", srv.url));
    d.click("header form button[type=submit]");
    d.wait_for("the login page", "return location.pathname === '/login'");
    d.sign_in(&srv.url, "jefa", PASSWORD);
    d.click("#admin-link");
    d.wait_for(
        "the administration page",
        "return location.pathname === '/administracion' && document.querySelectorAll('#users tbody tr').length === 3",
    );
    d.type_into("#new-username", "bo.rojas");
    d.type_into("#new-display", "Dr. Bo Rojas");
    d.type_into("#new-password", "otra-clave-larga");
    d.key("\u{E007}");
    d.wait_for(
        "the new account",
        "return document.body.textContent.includes('Se agregó la cuenta bo.rojas') && document.querySelectorAll('#users tbody tr').length === 4",
    );
    d.screenshot("7-administracion");
    // The server's state, the queue and the audit trail, in local time, checked on
    // request; nothing in English, nothing wider than the window.
    assert!(
        d.script("return document.querySelectorAll('#audit tbody tr').length")
            .as_i64()
            .unwrap()
            > 3
    );
    assert_eq!(
        d.script("return [...document.querySelectorAll('#audit time')].every(t => /\\d{1,2}[-/]\\d{1,2}[-/]\\d{4}/.test(t.textContent))"),
        json!(true),
        "audit times are shown as local dates"
    );
    d.click("#audit-verify");
    d.wait_for(
        "the audit check",
        "return (document.getElementById('audit-check')||{}).textContent?.includes('íntegra') === true",
    );
    d.page_ok("7-administracion-bitacora");
}

/// `pdftotext` of a PDF, when poppler-utils is installed.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("page.pdf");
    std::fs::write(&p, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&p)
        .arg("-")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The physician's review at 1366 px and at 390 px: a compact record imported from the
/// page (it has no episode number) with a drug code that belongs to another drug; that
/// code first among the data's warnings, marked in its panel and named when signing; the
/// signed version printable (and named as the valid one) after an amendment; the list
/// with patient and diagnosis, searchable by diagnosis, and «Altas de hoy»; Ctrl+S; a
/// print of the page with the text alone; Spanish only and no sideways scrolling.
#[test]
fn a_review_on_desktop_and_phone_in_spanish() {
    let Some(d) = Driver::start_at(1366, 900) else {
        return;
    };
    let dir = setup();
    let srv = serve(dir.path(), &["--engine", "deterministic"]);
    import(&login(&srv.url, "ana"));
    d.sign_in(&srv.url, "ana", PASSWORD);
    // Import from the page: a compact record without an episode number.
    let file = testdata("web/compact_wrong_atc.json")
        .canonicalize()
        .unwrap();
    let input = d.find("#import-file");
    d.call(
        "POST",
        &format!("/element/{input}/value"),
        json!({"text": file.display().to_string()}),
    );
    d.click("#import-form button[type=submit]");
    d.wait_for(
        "the imported episode",
        "return location.pathname.startsWith('/episodios/registro-')",
    );
    let compact_url = d
        .script("return location.href")
        .as_str()
        .unwrap()
        .to_string();
    // The wrong code: first warning, in words, open; marked in the treatments panel.
    let first =
        d.script("return document.querySelector('#source-warnings ul.warnings li').textContent");
    let first = first.as_str().unwrap();
    assert!(
        first.contains("Código que no corresponde")
            && first.contains("vancomicina")
            && first.contains("Tratamientos durante la hospitalización"),
        "{first}"
    );
    assert!(
        !first.contains("tto["),
        "a JSON path reached the page: {first}"
    );
    assert_eq!(
        d.script("return document.getElementById('source-warnings').open"),
        json!(true)
    );
    assert!(
        d.script("return document.querySelector('#treatments .doubt') !== null && document.querySelector('#treatments li').textContent.includes('vancomicina')")
            == json!(true)
    );
    d.page_ok("web-1366-registro-importado");
    // Draft, then sign: the dialog names the wrong code.
    d.click("#generate");
    d.wait_for("the draft", "return (document.getElementById('version-badge')||{}).textContent?.includes('versión 1') === true");
    d.click("#sign");
    let dialogs = d.accept_dialogs();
    assert!(
        dialogs
            .iter()
            .any(|t| t.contains("J01XA01") && t.contains("vancomicina")),
        "signing did not name the wrong code: {dialogs:?}"
    );
    d.wait_for("the signature", "return (document.getElementById('version-badge')||{}).textContent?.includes('firmada') === true");
    // Amend: the text opens, Ctrl+S saves an amendment.
    d.click("#amend");
    d.script("const e=document.getElementById('editor'); e.focus(); e.setSelectionRange(e.value.length, e.value.length);");
    d.type_into("#editor", "\nControl en policlínico en 7 días.");
    d.call(
        "POST",
        "/actions",
        json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": "\u{E009}"}, {"type": "keyDown", "value": "s"},
            {"type": "keyUp", "value": "s"}, {"type": "keyUp", "value": "\u{E009}"}]}]}),
    );
    d.wait_for_up_to(
        "the amendment",
        "return document.getElementById('amendment-notice') !== null",
        Duration::from_secs(30),
    );
    // The signed version stays printable, and is said to be the valid document.
    let signed_pdf = d.script(
        "const a=document.getElementById('export-signed-pdf'); return a ? a.getAttribute('href') : null",
    );
    let href = signed_pdf
        .as_str()
        .expect("a link to the signed version's PDF");
    let s = login(&srv.url, "ana");
    let r = s.get(href);
    assert_eq!(r.status(), 200);
    let pdf = r.bytes().unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&pdf) {
        assert!(
            !text.contains("BORRADOR"),
            "the signed version printed as a draft"
        );
        assert!(text.contains("firmada"), "{text}");
    }
    assert!(
        d.script("return document.getElementById('export-draft').textContent")
            .as_str()
            .unwrap()
            .contains("Enmienda en borrador")
    );
    d.page_ok("web-1366-enmienda");
    // The browser's print of the page: the text, without the controls.
    if let Some(text) = pdf_text(&d.print_pdf()) {
        assert!(text.contains("Control en policlínico"), "{text}");
        assert!(
            !text.contains("Aprobar y firmar") && !text.contains("Hallazgos"),
            "{text}"
        );
    }
    // The list: patient and diagnosis columns, the state, searchable by diagnosis.
    d.go(&format!("{}/episodios?q=neumonia", srv.url));
    let rows = d.script(
        "return [...document.querySelectorAll('#episode-list tbody tr')].map(r => r.textContent)",
    );
    let rows: Vec<String> = serde_json::from_value(rows).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains("Neumonia adquirida en la comunidad")
            && rows[0].contains("Firmada (versión")
            && rows[0].contains("enmienda en borrador"),
        "{rows:?}"
    );
    d.page_ok("web-1366-lista");
    d.click("#today-link");
    d.wait_for(
        "«Mis altas de hoy»",
        "return document.querySelector('h1').textContent === 'Mis altas de hoy'",
    );
    d.page_ok("web-1366-altas-de-hoy");
    d.go(&format!("{}/casos-similares", srv.url));
    d.page_ok("web-1366-casos-similares");
    d.go(&format!("{}/no-existe", srv.url));
    d.wait_for(
        "the 404 page",
        "return document.body.textContent.includes('(404)')",
    );
    d.page_ok("web-1366-404");
    // A phone: the same pages fit, and the text to review comes before the data.
    d.resize(390, 844);
    for (name, url) in [
        ("web-390-lista", format!("{}/episodios", srv.url)),
        ("web-390-registro", compact_url.clone()),
        (
            "web-390-episodio-rico",
            format!("{}/episodios/{EPISODE}", srv.url),
        ),
        (
            "web-390-casos-similares",
            format!("{}/casos-similares", srv.url),
        ),
    ] {
        d.go(&url);
        d.wait_for("the page", "return document.readyState === 'complete'");
        std::thread::sleep(Duration::from_millis(300));
        d.page_ok(name);
    }
    d.go(&compact_url);
    assert_eq!(
        d.script("const e=document.getElementById('editor').getBoundingClientRect(), t=document.querySelector('section.data').getBoundingClientRect(); return e.top < t.top"),
        json!(true),
        "on a phone the text comes first"
    );
    d.script("document.getElementById('draft-card').scrollIntoView({block: 'start', behavior: 'instant'});");
    d.screenshot("web-390-texto");
    d.script("document.getElementById('findings').scrollIntoView({block: 'start', behavior: 'instant'});");
    d.screenshot("web-390-hallazgos");
}

/// With the SmolLM2 fixture: drafting shows its stage and a time; the page opened again
/// during the draft finds the job and follows it; asking again gives the same job; one
/// version in the end.
#[test]
fn a_draft_shows_its_stage_and_is_found_again_after_a_reload() {
    let Some(model) = model_fixture() else { return };
    let model = model.display().to_string();
    let Some(d) = Driver::start_at(1366, 900) else {
        return;
    };
    let dir = setup();
    let srv = serve(
        dir.path(),
        &[
            "--engine",
            "local",
            "--model",
            &model,
            "--context-size",
            "2048",
            "--max-tokens",
            "160",
            "--threads",
            "1",
        ],
    );
    let s = login(&srv.url, "ana");
    let bytes = std::fs::read(testdata("episodes/compact_hernia.json")).unwrap();
    assert_eq!(
        s.post_bytes("/api/v1/episodes?id=hernia", bytes).status(),
        201
    );
    d.sign_in(&srv.url, "ana", PASSWORD);
    d.go(&format!("{}/episodios/hernia", srv.url));
    d.click("#generate");
    d.wait_for_up_to(
        "the writing stage",
        "return !document.getElementById('progress').hidden && /Redactando/.test(document.getElementById('stage').textContent) && /transcurridos|de redacción/.test(document.getElementById('timing').textContent)",
        Duration::from_secs(120),
    );
    d.page_ok("web-1366-redactando");
    // Reloaded while drafting: the page follows the same job.
    d.go(&format!("{}/episodios/hernia", srv.url));
    let job = d.script("return document.getElementById('episode').dataset.job");
    let job = job.as_str().unwrap().to_string();
    assert!(
        !job.is_empty(),
        "the reloaded page does not know the draft under way"
    );
    d.wait_for(
        "the progress after a reload",
        "return !document.getElementById('progress').hidden",
    );
    // Asking again (another tab, the API) gives the same job.
    let again: Value = s
        .post("/api/v1/episodes/hernia/drafts", &json!({}))
        .json()
        .unwrap();
    assert_eq!(again["jobId"], json!(job), "{again}");
    assert_eq!(again["existing"], json!(true));
    d.wait_for_up_to(
        "the draft",
        "return (document.getElementById('version-badge')||{}).textContent?.includes('versión 1') === true",
        Duration::from_secs(600),
    );
    let versions: Value = s.get("/api/v1/episodes/hernia/versions").json().unwrap();
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        1,
        "{versions}"
    );
}
