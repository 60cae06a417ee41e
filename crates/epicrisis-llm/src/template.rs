//! Chat templates: messages → the exact prompt text a model was trained on.
//!
//! A GGUF file usually carries its template (a Jinja program) in `tokenizer.chat_template`;
//! when present it is rendered as is with `minijinja`, so the prompt is the one the model
//! expects. The families users download (Zephyr/TinyLlama, Llama 3, Mistral `[INST]`,
//! ChatML for Qwen and SmolLM2, Gemma) are also built in, for files without a template,
//! for templates the Jinja engine cannot run, and for an administrator's explicit choice.
//! Beginning-of-text tokens are not written: the tokenizer adds them as the model asks.

use crate::generator::{ChatMessage, Role};
use serde::{Deserialize, Serialize};

/// A built-in template family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `<|im_start|>role … <|im_end|>`: Qwen, SmolLM2, many others.
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|> … <|eot_id|>`: Llama 3.x.
    Llama3,
    /// `[INST] … [/INST]`: Mistral Instruct (system text joins the first user turn).
    Mistral,
    /// `<|system|> … </s>`: Zephyr, TinyLlama Chat.
    Zephyr,
    /// `<start_of_turn>user … <end_of_turn>`: Gemma (system text joins the first user turn).
    Gemma,
    /// No template: a base model continues plain text.
    Raw,
}

impl Family {
    pub const ALL: [Family; 6] = [
        Family::ChatMl,
        Family::Llama3,
        Family::Mistral,
        Family::Zephyr,
        Family::Gemma,
        Family::Raw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::ChatMl => "chatml",
            Family::Llama3 => "llama3",
            Family::Mistral => "mistral",
            Family::Zephyr => "zephyr",
            Family::Gemma => "gemma",
            Family::Raw => "raw",
        }
    }

    /// Parses a setting value (`chatml`, `llama3`, `mistral`, `zephyr`, `tinyllama`, `gemma`,
    /// `qwen`, `raw`).
    pub fn parse(s: &str) -> Option<Family> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "chatml" | "qwen" | "smollm" | "smollm2" => Family::ChatMl,
            "llama3" | "llama-3" | "llama3.1" | "llama3.2" => Family::Llama3,
            "mistral" | "inst" | "llama2" => Family::Mistral,
            "zephyr" | "tinyllama" => Family::Zephyr,
            "gemma" | "gemma2" | "gemma3" => Family::Gemma,
            "raw" | "none" => Family::Raw,
            _ => return None,
        })
    }

    /// Strings that end a turn in this family (llama.cpp also stops at end-of-generation
    /// tokens; these catch models that spell them out).
    pub fn stop_strings(self) -> Vec<String> {
        let s: &[&str] = match self {
            Family::ChatMl => &["<|im_end|>", "<|im_start|>"],
            Family::Llama3 => &["<|eot_id|>", "<|start_header_id|>"],
            Family::Mistral => &["[INST]", "</s>"],
            Family::Zephyr => &["</s>", "<|user|>", "<|system|>"],
            Family::Gemma => &["<end_of_turn>", "<start_of_turn>"],
            Family::Raw => &[],
        };
        s.iter().map(|x| x.to_string()).collect()
    }

    /// Guesses the family of a Jinja template from its markers.
    pub fn detect(jinja: &str) -> Option<Family> {
        if jinja.contains("<|im_start|>") {
            Some(Family::ChatMl)
        } else if jinja.contains("<|start_header_id|>") {
            Some(Family::Llama3)
        } else if jinja.contains("<start_of_turn>") {
            Some(Family::Gemma)
        } else if jinja.contains("<|user|>") && jinja.contains("<|assistant|>") {
            Some(Family::Zephyr)
        } else if jinja.contains("[INST]") {
            Some(Family::Mistral)
        } else {
            None
        }
    }
}

/// The system text folded into the first user turn, for families without a system role.
fn merged(messages: &[ChatMessage]) -> Vec<(Role, String)> {
    let mut out: Vec<(Role, String)> = Vec::new();
    let mut system = String::new();
    for m in messages {
        match m.role {
            Role::System => {
                if !system.is_empty() {
                    system.push_str("\n\n");
                }
                system.push_str(&m.content);
            }
            Role::User if !system.is_empty() => {
                out.push((
                    Role::User,
                    format!("{}\n\n{}", std::mem::take(&mut system), m.content),
                ));
            }
            r => out.push((r, m.content.clone())),
        }
    }
    if !system.is_empty() {
        out.push((Role::User, system));
    }
    out
}

/// Renders messages with a built-in family, ending with the opening of the assistant's
/// turn.
pub fn render_builtin(family: Family, messages: &[ChatMessage]) -> String {
    let mut s = String::new();
    match family {
        Family::ChatMl => {
            for m in messages {
                s.push_str(&format!(
                    "<|im_start|>{}\n{}<|im_end|>\n",
                    m.role.as_str(),
                    m.content
                ));
            }
            s.push_str("<|im_start|>assistant\n");
        }
        Family::Llama3 => {
            for m in messages {
                s.push_str(&format!(
                    "<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>",
                    m.role.as_str(),
                    m.content.trim()
                ));
            }
            s.push_str("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }
        Family::Zephyr => {
            for m in messages {
                s.push_str(&format!("<|{}|>\n{}</s>\n", m.role.as_str(), m.content));
            }
            s.push_str("<|assistant|>\n");
        }
        Family::Mistral => {
            for (role, content) in merged(messages) {
                match role {
                    Role::User => s.push_str(&format!("[INST] {} [/INST]", content.trim())),
                    _ => s.push_str(&format!("{}</s>", content.trim())),
                }
            }
        }
        Family::Gemma => {
            for (role, content) in merged(messages) {
                let r = if role == Role::Assistant {
                    "model"
                } else {
                    "user"
                };
                s.push_str(&format!(
                    "<start_of_turn>{r}\n{}<end_of_turn>\n",
                    content.trim()
                ));
            }
            s.push_str("<start_of_turn>model\n");
        }
        Family::Raw => {
            for (i, m) in messages.iter().enumerate() {
                if i > 0 {
                    s.push_str("\n\n");
                }
                s.push_str(&m.content);
            }
            s.push_str("\n\n");
        }
    }
    s
}

/// Renders a model's own Jinja template (as found in the GGUF metadata).
pub fn render_jinja(
    template: &str,
    messages: &[ChatMessage],
    bos: &str,
    eos: &str,
) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                msg,
            ))
        },
    );
    env.add_function("strftime_now", |_fmt: String| -> String { String::new() });
    env.add_template("chat", template)
        .map_err(|e| format!("the template does not parse: {e}"))?;
    let msgs: Vec<minijinja::Value> = messages
        .iter()
        .map(|m| minijinja::context! { role => m.role.as_str(), content => m.content.clone() })
        .collect();
    let tmpl = env.get_template("chat").map_err(|e| e.to_string())?;
    let out = tmpl
        .render(minijinja::context! {
            messages => msgs,
            add_generation_prompt => true,
            bos_token => bos,
            eos_token => eos,
        })
        .map_err(|e| format!("the template cannot be rendered: {e}"))?;
    // Templates that print the beginning-of-text token themselves would double it, since
    // the tokenizer adds it too.
    let out = if !bos.is_empty() {
        out.strip_prefix(bos).map(str::to_string).unwrap_or(out)
    } else {
        out
    };
    Ok(out)
}

/// Which template renders prompts, and why.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateChoice {
    /// The GGUF file's own template (and the family its markers show, for stop strings).
    Gguf {
        jinja: String,
        family: Option<Family>,
    },
    /// A built-in family.
    Builtin(Family),
}

impl TemplateChoice {
    /// Decides from the setting (`auto` or a family name), the file's template and the
    /// model's name: the setting wins; then the file's template; then the name; else raw.
    pub fn choose(
        setting: Option<Family>,
        gguf_template: Option<&str>,
        model_name: &str,
    ) -> TemplateChoice {
        if let Some(f) = setting {
            return TemplateChoice::Builtin(f);
        }
        if let Some(t) = gguf_template.filter(|t| !t.trim().is_empty()) {
            return TemplateChoice::Gguf {
                jinja: t.to_string(),
                family: Family::detect(t),
            };
        }
        let n = model_name.to_ascii_lowercase();
        let f = if n.contains("tinyllama") || n.contains("zephyr") {
            Family::Zephyr
        } else if n.contains("llama-3") || n.contains("llama3") {
            Family::Llama3
        } else if n.contains("mistral") {
            Family::Mistral
        } else if n.contains("qwen") || n.contains("smollm") {
            Family::ChatMl
        } else if n.contains("gemma") && (n.contains("-it") || n.contains("instruct")) {
            Family::Gemma
        } else {
            Family::Raw
        };
        TemplateChoice::Builtin(f)
    }

    /// A short name for provenance: `gguf:chatml`, `builtin:llama3`.
    pub fn label(&self) -> String {
        match self {
            TemplateChoice::Gguf { family, .. } => {
                format!("gguf:{}", family.map_or("custom", |f| f.as_str()))
            }
            TemplateChoice::Builtin(f) => format!("builtin:{}", f.as_str()),
        }
    }

    /// Stop strings for this template.
    pub fn stop_strings(&self) -> Vec<String> {
        match self {
            TemplateChoice::Gguf { family, .. } => {
                family.map(Family::stop_strings).unwrap_or_default()
            }
            TemplateChoice::Builtin(f) => f.stop_strings(),
        }
    }

    /// Renders messages. A file template that fails to render falls back to the family its
    /// markers show (or ChatML), so a draft is never lost to a template quirk.
    pub fn render(&self, messages: &[ChatMessage], bos: &str, eos: &str) -> Result<String, String> {
        match self {
            TemplateChoice::Builtin(f) => Ok(render_builtin(*f, messages)),
            TemplateChoice::Gguf { jinja, family } => match render_jinja(jinja, messages, bos, eos)
            {
                Ok(s) => Ok(s),
                Err(e) => match family {
                    Some(f) => Ok(render_builtin(*f, messages)),
                    None => Err(e),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs() -> Vec<ChatMessage> {
        vec![
            ChatMessage::system("Eres médico."),
            ChatMessage::user("Resume."),
        ]
    }

    #[test]
    fn chatml() {
        assert_eq!(
            render_builtin(Family::ChatMl, &msgs()),
            "<|im_start|>system\nEres médico.<|im_end|>\n<|im_start|>user\nResume.<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn llama3() {
        assert_eq!(
            render_builtin(Family::Llama3, &msgs()),
            "<|start_header_id|>system<|end_header_id|>\n\nEres médico.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nResume.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }

    #[test]
    fn mistral_merges_system_into_first_turn() {
        let mut m = msgs();
        m.push(ChatMessage::assistant("Listo."));
        m.push(ChatMessage::user("Otra vez."));
        assert_eq!(
            render_builtin(Family::Mistral, &m),
            "[INST] Eres médico.\n\nResume. [/INST]Listo.</s>[INST] Otra vez. [/INST]"
        );
    }

    #[test]
    fn zephyr() {
        assert_eq!(
            render_builtin(Family::Zephyr, &msgs()),
            "<|system|>\nEres médico.</s>\n<|user|>\nResume.</s>\n<|assistant|>\n"
        );
    }

    #[test]
    fn gemma() {
        assert_eq!(
            render_builtin(Family::Gemma, &msgs()),
            "<start_of_turn>user\nEres médico.\n\nResume.<end_of_turn>\n<start_of_turn>model\n"
        );
    }

    #[test]
    fn raw_for_base_models() {
        assert_eq!(
            render_builtin(Family::Raw, &msgs()),
            "Eres médico.\n\nResume.\n\n"
        );
    }

    /// Qwen2.5's real template (tools branch included), as its GGUF files carry it.
    const QWEN25: &str = r#"{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"#;

    #[test]
    fn gguf_jinja_template_renders_like_the_family() {
        let choice = TemplateChoice::choose(None, Some(QWEN25), "qwen2.5-coder-1.5b-instruct");
        assert_eq!(choice.label(), "gguf:chatml");
        let out = choice
            .render(&msgs(), "", "<|endoftext|>")
            .expect("renders");
        assert_eq!(out, render_builtin(Family::ChatMl, &msgs()));
    }

    #[test]
    fn jinja_with_bos_and_python_methods() {
        let t = "{{ bos_token }}{% for m in messages %}[{{ m.role.upper() }}] {{ m.content.strip() }}\n{% endfor %}";
        let out =
            render_jinja(t, &[ChatMessage::user("  hola  ")], "<s>", "</s>").expect("renders");
        assert_eq!(out, "[USER] hola\n");
    }

    #[test]
    fn choice_follows_setting_then_file_then_name() {
        assert_eq!(
            TemplateChoice::choose(Some(Family::Gemma), Some(QWEN25), "x").label(),
            "builtin:gemma"
        );
        assert_eq!(
            TemplateChoice::choose(None, None, "TinyLlama-1.1B-Chat").label(),
            "builtin:zephyr"
        );
        assert_eq!(
            TemplateChoice::choose(None, None, "gemma-3-270m").label(),
            "builtin:raw"
        );
        assert_eq!(
            TemplateChoice::choose(None, None, "Meta-Llama-3.1-8B-Instruct").label(),
            "builtin:llama3"
        );
    }

    #[test]
    fn broken_file_template_falls_back_to_its_family() {
        let broken =
            "<|im_start|>{% for m in messages %}{{ m.content | nosuchfilter }}{% endfor %}";
        let choice = TemplateChoice::choose(None, Some(broken), "x");
        assert_eq!(
            choice.render(&msgs(), "", "").unwrap(),
            render_builtin(Family::ChatMl, &msgs())
        );
    }
}
