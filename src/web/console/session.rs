//! Signing in and out, and enrolling: the one-time code and a password, then
//! the authenticator (its key as a QR code and as text).

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{PreEscaped, html};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ConsoleSession, Empty, PublicForm, Result, SessionForm, Visitor, alert, csrf, page, refusal};
use crate::AppState;
use crate::accounts::sessions::{self, Enrollment, Session, Stage};
use crate::web::auth::{ClientNetwork, clear_cookie, session_cookie};
use crate::web::error::ApiError;

/// `/`: the console, which shows the dashboard to someone signed in, the
/// enrollment step to someone enrolling, and the sign-in page to anyone else.
pub async fn root() -> Redirect {
    Redirect::to("/console")
}

fn sign_in_form(message: Option<&str>) -> Html<String> {
    let body = html! {
        h1 { "Sign in" }
        (alert(message))
        form method="post" action="/console/sign-in" {
            label for="alias" { "Alias" }
            input id="alias" name="alias" autocomplete="username" required;
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            label for="code" { "Code from your authenticator app" }
            input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" required;
            button type="submit" { "Sign in" }
        }
        p { "New here? " a href="/console/enroll" { "Enroll with the code a coordinator gave you" } "." }
    };
    page("Sign in", None, body)
}

pub async fn sign_in_page(_visitor: Visitor) -> Html<String> {
    sign_in_form(None)
}

#[derive(Deserialize)]
pub struct SignInForm {
    alias: String,
    password: SecretString,
    code: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    PublicForm(f): PublicForm<SignInForm>,
) -> Result<Response> {
    match sessions::sign_in(&state, &f.alias, f.password, &f.code, network.as_deref()).await {
        Ok(s) => Ok(([(SET_COOKIE, session_cookie(&s.token))], Redirect::to("/console")).into_response()),
        Err(e) => {
            let e = refusal(e)?;
            Ok((e.status(), sign_in_form(Some(&e.message()))).into_response())
        }
    }
}

fn enroll_form(message: Option<&str>) -> Html<String> {
    let body = html! {
        h1 { "Enroll" }
        (alert(message))
        p {
            "Use the one-time code a coordinator gave you. Then choose a password (at least "
            (crate::accounts::password::MIN_LEN) " characters) and set up an authenticator app."
        }
        form method="post" action="/console/enroll" {
            label for="alias" { "Alias" }
            input id="alias" name="alias" autocomplete="username" required;
            label for="code" { "Enrollment code" }
            input id="code" name="code" required;
            label for="password" { "New password" }
            input id="password" name="password" type="password" autocomplete="new-password" required;
            label for="password2" { "New password, again" }
            input id="password2" name="password2" type="password" autocomplete="new-password" required;
            label for="age" {
                "An age public key you made with age-keygen (optional: otherwise this browser makes one after \
                 the authenticator, " code { "age1…" } ")"
            }
            input id="age" name="age_recipient";
            button type="submit" { "Continue" }
        }
    };
    page("Enroll", None, body)
}

pub async fn enroll_page(_visitor: Visitor) -> Html<String> {
    enroll_form(None)
}

#[derive(Deserialize)]
pub struct EnrollForm {
    alias: String,
    code: SecretString,
    password: SecretString,
    password2: SecretString,
    #[serde(default)]
    age_recipient: String,
}

pub async fn enroll(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    PublicForm(f): PublicForm<EnrollForm>,
) -> Result<Response> {
    if f.password.expose_secret() != f.password2.expose_secret() {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, enroll_form(Some("The two passwords differ."))).into_response());
    }
    let e = Enrollment { alias: f.alias, code: f.code, password: f.password, age_recipient: Some(f.age_recipient) };
    match sessions::enroll(&state, e, network.as_deref()).await {
        Ok(s) => Ok(([(SET_COOKIE, session_cookie(&s.token))], Redirect::to("/console/enroll/totp")).into_response()),
        Err(e) => {
            let e = refusal(e)?;
            Ok((e.status(), enroll_form(Some(&e.message()))).into_response())
        }
    }
}

pub async fn totp_page(State(state): State<AppState>, ConsoleSession(s): ConsoleSession) -> Result<Response> {
    if s.stage == Stage::Full {
        return Ok(Redirect::to("/console").into_response());
    }
    Ok(totp_form(&state, &s, None).await?.into_response())
}

async fn totp_form(state: &AppState, s: &Session, message: Option<&str>) -> Result<Html<String>> {
    let secret = sessions::pending_totp(state, s).await?;
    let uri = secret.uri("quietline", s.volunteer.alias.as_str());
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    let body = html! {
        h1 { "Set up your authenticator" }
        (alert(message))
        p {
            "Scan this code with an authenticator app (any app for six-digit codes), or type the key by hand. \
             Then enter the code it shows."
        }
        figure {
            // The SVG is the QR encoder's output, not text from anyone.
            div class="qr" role="img" aria-label="QR code of your authenticator key" { (PreEscaped(svg)) }
            figcaption { "Key: " code id="totp-secret" { (secret.base32().as_str()) } }
        }
        form method="post" action="/console/enroll/totp" {
            (csrf(s))
            label for="code" { "Code from the app" }
            input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required;
            button type="submit" { "Finish" }
        }
    };
    Ok(page("Authenticator", None, body))
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

pub async fn totp(
    State(state): State<AppState>,
    SessionForm { session: s, form }: SessionForm<CodeForm>,
) -> Result<Response> {
    if s.stage == Stage::Full {
        return Ok(Redirect::to("/console").into_response());
    }
    match sessions::confirm_totp(&state, &s, &form.code).await {
        // Without a key nothing can be sealed to them: the next step makes one.
        Ok(()) if !s.volunteer.has_key() => Ok(Redirect::to("/console/keys?new=1").into_response()),
        Ok(()) => Ok(Redirect::to("/console").into_response()),
        Err(e) => {
            let e = refusal(e)?;
            Ok((e.status(), totp_form(&state, &s, Some(&e.message())).await?).into_response())
        }
    }
}

fn signed_out() -> Response {
    ([(SET_COOKIE, clear_cookie())], Redirect::to("/console/sign-in")).into_response()
}

pub async fn sign_out(
    State(state): State<AppState>,
    SessionForm { session, .. }: SessionForm<Empty>,
) -> Result<Response> {
    sessions::sign_out(&state, &session).await?;
    Ok(signed_out())
}

pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    SessionForm { session, .. }: SessionForm<Empty>,
) -> Result<Response> {
    sessions::sign_out_everywhere(&state, &session.volunteer).await?;
    Ok(signed_out())
}
