use super::*;
use crate::labs::{lab_number, sortable_timestamp};
use epicrisis_domain::{Comparator, LabStatus};

#[test]
fn no_allergy_phrases() {
    for s in [
        "Sin alergias conocidas",
        "No refiere",
        "niega",
        "no",
        "Ninguna",
        "NIEGA ALERGIAS",
        "Sin alergias medicamentosas conocidas",
        "No refiere alergias",
    ] {
        assert!(is_no_allergy(s), "{s}");
    }
    for s in [
        "Penicilina",
        "AINES",
        "no tolera AINES",
        "Alergia a penicilina",
    ] {
        assert!(!is_no_allergy(s), "{s}");
    }
}

#[test]
fn lab_numbers_with_commas_and_units() {
    assert_eq!(lab_number(&Value::from("7,8")), Some((7.8, None)));
    assert_eq!(
        lab_number(&Value::from("7.8 g/dL")),
        Some((7.8, Some("g/dL".into())))
    );
    assert_eq!(lab_number(&Value::from("-2,5")), Some((-2.5, None)));
    assert_eq!(lab_number(&Value::from(12.5)), Some((12.5, None)));
    assert_eq!(lab_number(&Value::from("positivo")), None);
    assert_eq!(
        lab_number(&Value::from("<0.5")),
        None,
        "a bound is read by read_value"
    );
}

#[test]
fn ages_in_months_weeks_days_and_from_a_birth_date() {
    assert_eq!(age_text("68"), Some((68, None)));
    assert_eq!(age_text("68 años"), Some((68, None)));
    assert_eq!(age_text("8 meses"), Some((0, Some(244))));
    assert_eq!(age_text("8m"), Some((0, Some(244))));
    assert_eq!(age_text("3 semanas"), Some((0, Some(21))));
    assert_eq!(age_text("12 días"), Some((0, Some(12))));
    assert_eq!(age_text("1 año y 3 meses"), Some((1, Some(457))));
    assert_eq!(age_text("30 meses"), Some((2, None)));
    assert_eq!(age_text("sesenta"), None);
    let v = serde_json::json!({
        "atencion": {"fecha_ingreso": "2025-03-10"},
        "paciente": {"edad": 0, "fecha_nacimiento": "2024-07-10"},
        "diagnostico_ingreso": [{"codigo": "K56.1", "nombre": "Invaginación intestinal"}]
    });
    let mut ctx = Ctx::new("e.json", None);
    let ep = read(&mut ctx, v.as_object().unwrap(), false).unwrap();
    assert_eq!(ep.patient.age, Some(0));
    assert_eq!(ep.patient.age_es().as_deref(), Some("8 meses"));
    let v = serde_json::json!({
        "paciente": {"edad": "12 días"},
        "diagnostico_ingreso": [{"codigo": "P59.9", "nombre": "Ictericia neonatal"}]
    });
    let ep = read(&mut ctx, v.as_object().unwrap(), false).unwrap();
    assert_eq!(ep.patient.age_es().as_deref(), Some("12 días"));
}

#[test]
fn inconsistent_and_unreadable_data_warn_in_spanish() {
    let v = serde_json::json!({
        "atencion": {"fecha_ingreso": "2025-12-15", "fecha_alta": "2025-12-10"},
        "paciente": {"sexo": "desconocido", "edad": "68 lunas"},
        "diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "Neumonía"}],
        "laboratorios_resumen": [
            {"prueba": "Hemoglobina", "ingreso": {"valor": 9.5},
             "periodo": {"min": 10.5, "max": 7.25}}
        ]
    });
    let mut ctx = Ctx::new("e.json", None);
    read(&mut ctx, v.as_object().unwrap(), false).unwrap();
    let es = |path: &str| {
        ctx.warnings
            .iter()
            .find(|w| w.path == path)
            .map(|w| w.message_es.clone())
            .unwrap_or_else(|| panic!("no warning at {path}: {:?}", ctx.warnings))
    };
    assert_eq!(
        es("atencion.fecha_alta"),
        "atencion.fecha_alta: La fecha de alta (2025-12-10) es anterior a la de ingreso \
         (2025-12-15, atencion.fecha_ingreso). Verifique ambas fechas."
    );
    assert_eq!(
        es("paciente.sexo"),
        "paciente.sexo: «desconocido» no es un valor de sexo reconocido (se espera F, M, femenino, \
         masculino u otro); se omitió."
    );
    assert_eq!(
        es("paciente.edad"),
        "paciente.edad: Se recibió un texto («68 lunas»), que no es una edad válida (se \
         espera un número entero de años, p. ej. 68, o «8 meses», «12 días»); se omitió."
    );
    assert_eq!(
        es("laboratorios_resumen[0].periodo"),
        "laboratorios_resumen[0].periodo: El mínimo (10,5) es mayor que el máximo (7,25). \
         Verifique ambos valores."
    );
    // The English messages are unchanged.
    let en = &ctx
        .warnings
        .iter()
        .find(|w| w.path == "atencion.fecha_alta")
        .unwrap()
        .message;
    assert_eq!(
        en,
        "atencion.fecha_alta: the discharge date 2025-12-10 is before the admission date \
         2025-12-15 (atencion.fecha_ingreso)"
    );
}

/// Laboratory values as other exports write them: the value alone, as a string with
/// its unit and a decimal comma, or a number; and parts that cannot be read at all,
/// which are warnings, never a refusal of the episode.
#[test]
fn lab_values_in_every_shape_and_unreadable_labs_never_refuse() {
    let v = serde_json::json!({
        "diagnostico_ingreso": [{"codigo": "J18.9", "nombre": "Neumonía"}],
        "laboratorios_resumen": [
            {"prueba": "Creatinina", "ingreso": "15.2 mg/dL", "ultimo": "1,1 mg/dL"},
            {"prueba": "Leucocitos", "unidad": "/uL", "ingreso": 16800,
             "ultimo": {"valor": "9.500", "fecha": "2025-12-20"}},
            {"prueba": "Saturación", "ingreso": "88%"},
            "hemoglobina baja",
            {"prueba": "Potasio", "ingreso": {"valor": "3,3", "estado": "L"},
             "ultimo": true, "periodo": "sin datos"},
            {"prueba": "PCR", "ingreso": "negativo"},
            {"prueba": "Troponina", "ingreso": "<0,01 ng/mL", "ultimo": "0,5",
             "rango_superior": 0.04},
            {"prueba": "Hemocultivo", "ingreso": "Pendiente"},
            {"prueba": "Urocultivo", "ultimo": {"valor": "E. coli", "fecha": "2025-12-17"}}
        ],
        "laboratorios_relevantes": [
            {"parametro": "VIH", "valor": "No reactivo", "fecha": "2025-12-16"},
            {"parametro": "ANA", "valor": "1/160"},
            {"parametro": "Lactato", "valor": "> 4 mmol/L"},
            {"parametro": "Sodio", "valor": true}
        ]
    });
    let mut ctx = Ctx::new("e.json", None);
    let ep = read(&mut ctx, v.as_object().unwrap(), false).expect("read, with warnings");
    let lab = |name: &str| {
        ep.labs
            .iter()
            .find(|l| l.test == name)
            .unwrap_or_else(|| panic!("{name} missing: {:?}", ep.labs))
    };
    let c = lab("Creatinina");
    assert_eq!((c.first.value, c.unit.as_deref()), (15.2, Some("mg/dL")));
    assert_eq!(c.last.as_ref().map(|l| l.value), Some(1.1));
    assert_eq!((c.min, c.max), (1.1, 15.2));
    let l = lab("Leucocitos");
    assert_eq!(l.first.value, 16800.0);
    assert_eq!(l.unit.as_deref(), Some("/uL"));
    assert!(l.last.as_ref().is_some_and(|x| x.date.is_some()));
    assert_eq!(lab("Saturación").unit.as_deref(), Some("%"));
    let k = lab("Potasio");
    assert_eq!(k.first.value, 3.3);
    assert_eq!(k.first.status, LabStatus::Low);
    assert!(k.last.is_none(), "the unreadable last value is left out");
    let t = lab("Troponina");
    assert_eq!(t.first.comparator, Some(Comparator::Lt));
    assert_eq!(t.first.written(), "<0,01");
    assert_eq!(t.unit.as_deref(), Some("ng/mL"));
    assert_eq!(t.last.as_ref().map(|l| l.value), Some(0.5));
    let lactate = lab("Lactato");
    assert_eq!(
        (lactate.first.comparator, lactate.first.value),
        (Some(Comparator::Gt), 4.0)
    );
    assert_eq!(ep.labs.len(), 6, "{:?}", ep.labs);
    // Qualitative results are findings, as written, with their dates.
    let found: Vec<(&str, &str)> = ep
        .lab_findings
        .iter()
        .map(|f| (f.test.as_str(), f.result.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("PCR", "negativo"),
            ("Urocultivo", "E. coli"),
            ("VIH", "No reactivo"),
            ("ANA", "1/160")
        ]
    );
    assert!(ep.lab_findings[1].date.is_some());
    let warned = |path: &str| {
        ctx.warnings
            .iter()
            .find(|w| w.path == path)
            .unwrap_or_else(|| panic!("no warning at {path}: {:?}", ctx.warnings))
    };
    for path in [
        "laboratorios_resumen[3]",
        "laboratorios_resumen[4].ultimo",
        "laboratorios_resumen[4].periodo",
        "laboratorios_resumen[7].ingreso.valor",
        "laboratorios_relevantes[3].valor",
    ] {
        let w = warned(path);
        assert_eq!(w.kind, WarningKind::Unreadable, "{path}");
    }
    let w = warned("laboratorios_resumen[3]");
    assert!(w.message.contains("hemoglobina baja"), "{}", w.message);
    assert!(
        w.message_es.contains("se omitió ese examen"),
        "{}",
        w.message_es
    );
}

#[test]
fn timestamps_sort_by_date() {
    let d = Date::parse("15/12/2025").ok();
    assert_eq!(
        sortable_timestamp("15/12/2025 08:00", d).as_deref(),
        Some("2025-12-15T08:00")
    );
    assert_eq!(
        sortable_timestamp("2025-12-15T08:00", d).as_deref(),
        Some("2025-12-15T08:00")
    );
}
