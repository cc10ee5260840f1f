//! `PublishMoment` and `DeleteMoment`.
//!
//! A moment is checked field by field before its job; in the job, the
//! client id (a retry returns the first moment), the daily count, the
//! listed friends and the files (the author's own uploads, of the right
//! kind) are read again, so nothing checked can change before the write.
//! Its author's online friends whose feed shows it get a `MomentPosted`
//! update live, with no row in their logs.

use std::collections::HashSet;

use super::store::{self, MomentRecord};
use super::visibility::{Place, Sight};
use crate::id::{first_id_at, now_ms};
use crate::protocol::{
    DeleteMomentRequest, Location, MomentAudience, MomentMedia, MomentPosted, MomentPublished, PublishMomentRequest,
    RateLimitReason, UpdateBody,
};
use crate::service::{media, names, social, update, Call, Outcome, ServiceError, ServiceResult, Services, Tx};

/// Most images one moment shows.
pub(super) const MAX_IMAGES: usize = 9;
/// Longest place name, in characters.
const PLACE_CHARS: usize = 64;
const DAY_MS: u64 = 86_400_000;

pub(super) async fn publish_moment(
    call: Call,
    mut req: PublishMomentRequest,
) -> ServiceResult<Outcome<MomentPublished>> {
    let me = call.me()?.user_id;
    let config = &call.services.config.moments;
    check_text("text", &req.text, config.text_max_chars as usize)?;
    check_media(&req.media)?;
    if req.text.trim().is_empty() && req.media == MomentMedia::None {
        return Err(ServiceError::invalid("a moment needs text or files"));
    }
    if let Some(place) = req.location.as_mut() {
        check_location(place)?;
    }
    check_audience(&req, me, config.listed_max as usize)?;
    let services = call.services.clone();
    let origin = call.session_id;
    call.services.write(move |tx| publish(tx, &services, me, req, origin)).await
}

fn publish(
    tx: &mut Tx<'_>,
    services: &Services,
    me: u64,
    req: PublishMomentRequest,
    origin: u64,
) -> ServiceResult<MomentPublished> {
    if let Some(moment_id) = store::posted_as(tx, me, req.client_id)? {
        return Ok(MomentPublished { moment_id, duplicate: true });
    }
    let now = now_ms();
    let per_day = services.config.moments.per_day;
    let recent = store::posted_since(tx, me, first_id_at(now.saturating_sub(DAY_MS)))?;
    if recent.len() >= per_day as usize {
        return Err(ServiceError::rate_limited(
            RateLimitReason::Quota,
            format!("at most {per_day} moments a day"),
            std::time::Duration::from_secs(3600),
        )
        .with_limit(u64::from(per_day)));
    }
    for &user in &req.visibility.users {
        if social::relation(tx, social::Pair::of(me, user))?.friends_since.is_none() {
            return Err(ServiceError::invalid(format!("visibility.users: {user} is not your friend")));
        }
    }
    let id = tx.next_id();
    let files: Vec<(u64, &str)> = match &req.media {
        MomentMedia::None => Vec::new(),
        MomentMedia::Images(images) => images.iter().map(|&f| (f, "image/")).collect(),
        MomentMedia::Video { video, cover } => vec![(*video, "video/"), (*cover, "image/")],
    };
    media::show_in_moment(tx, id, me, &files)?;
    let record = MomentRecord {
        author: me,
        text: req.text,
        media: req.media,
        location: req.location,
        visibility: req.visibility,
        likes: 0,
        comments: 0,
        client_id: req.client_id,
    };
    store::post(tx, id, &record);
    store::count_post(tx, me, recent, id);
    let mut told = vec![me];
    for friend in social::friend_ids(tx, me)? {
        if services.hub().is_online(friend)
            && Sight::new(friend, now).sees(tx, id, me, &record.visibility, Place::Feed)?
        {
            told.push(friend);
        }
    }
    let posted = UpdateBody::MomentPosted(MomentPosted { moment_id: id, author: me });
    update::publish_to(tx, &[], told, Some(origin), id, posted);
    Ok(MomentPublished { moment_id: id, duplicate: false })
}

pub(super) async fn delete_moment(call: Call, req: DeleteMomentRequest) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.user_id;
    let id = req.moment_id;
    call.services
        .write(move |tx| {
            let m = store::moment(tx, id)?.ok_or_else(super::no_moment)?;
            if m.author != me {
                return Err(super::refusal(tx, me, id, &m, "only its author deletes a moment")?);
            }
            super::remove(tx, id, &m)
        })
        .await
}

/// A moment's or a comment's text: at most `max` characters; new lines
/// and tabs, but no other control characters.
pub(super) fn check_text(field: &str, text: &str, max: usize) -> ServiceResult<()> {
    if text.chars().count() > max {
        return Err(ServiceError::invalid(format!("{field}: at most {max} characters")).with_limit(max as u64));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ServiceError::invalid(format!("{field}: no control characters but new lines and tabs")));
    }
    Ok(())
}

fn check_media(media: &MomentMedia) -> ServiceResult<()> {
    match media {
        MomentMedia::None => Ok(()),
        MomentMedia::Images(images) if images.is_empty() || images.len() > MAX_IMAGES => {
            Err(ServiceError::invalid(format!("media: 1 to {MAX_IMAGES} images (no images: MomentMedia::None)"))
                .with_limit(MAX_IMAGES as u64))
        }
        MomentMedia::Images(images) if images.iter().collect::<HashSet<_>>().len() != images.len() => {
            Err(ServiceError::invalid("media: an image is shown twice"))
        }
        MomentMedia::Images(_) => Ok(()),
        MomentMedia::Video { video, cover } if video == cover => {
            Err(ServiceError::invalid("media: a video's cover is an image of its own"))
        }
        MomentMedia::Video { .. } => Ok(()),
    }
}

fn check_location(place: &mut Location) -> ServiceResult<()> {
    place.name = names::check("location.name", &place.name, PLACE_CHARS)?;
    if place.name.is_empty() {
        return Err(ServiceError::invalid("location.name: must not be empty"));
    }
    if !(-900_000_000..=900_000_000).contains(&place.latitude_e7) {
        return Err(ServiceError::invalid("location.latitude_e7: −900000000 to 900000000 (degrees × 10⁷)"));
    }
    if !(-1_800_000_000..=1_800_000_000).contains(&place.longitude_e7) {
        return Err(ServiceError::invalid("location.longitude_e7: −1800000000 to 1800000000 (degrees × 10⁷)"));
    }
    Ok(())
}

fn check_audience(req: &PublishMomentRequest, me: u64, most: usize) -> ServiceResult<()> {
    let users = &req.visibility.users;
    match req.visibility.audience {
        MomentAudience::Public | MomentAudience::Friends if !users.is_empty() => {
            Err(ServiceError::invalid("visibility.users: only Only and Except list friends"))
        }
        MomentAudience::Only | MomentAudience::Except if users.is_empty() || users.len() > most => {
            Err(ServiceError::invalid(format!("visibility.users: 1 to {most} friends")).with_limit(most as u64))
        }
        _ if users.contains(&me) => Err(ServiceError::invalid("visibility.users: not yourself")),
        _ if users.iter().collect::<HashSet<_>>().len() != users.len() => {
            Err(ServiceError::invalid("visibility.users: a friend is listed twice"))
        }
        _ => Ok(()),
    }
}
