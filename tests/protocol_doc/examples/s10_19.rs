//! Section 10.19 Wake-ups (revision 23).

use super::*;

/// A P-256 point as the examples show one: `04`, then x and y (made up).
fn point(x: u8, y: u8) -> Vec<u8> {
    [vec![0x04], vec![x; 32], vec![y; 32]].concat()
}

pub(super) fn examples() -> Vec<Example> {
    vec![
        // PushKey request (sequence 50, empty body)
        request(50, &PushKey),
        // PushKey response
        response::<PushKey>(
            50,
            &PushKeyReply { enabled: true, vapid_key: point(0x5a, 0xa5), interval_secs: 60, registered: false },
        )
        .note("vapid_key", " (the server's VAPID key; made up)"),
        // SetPushEndpoint request (sequence 51)
        request(
            51,
            &SetPushEndpointRequest {
                endpoint: Some(PushEndpoint {
                    url: "https://ntfy.sh/upX7kd2Qm9aB?up=1".into(),
                    p256dh: point(0x1c, 0xc1),
                    auth: [0x3e; 16],
                    vapid: true,
                }),
            },
        )
        .note("endpoint.p256dh", " (the device's key; made up)"),
        // SetPushEndpoint response
        response::<SetPushEndpointRequest>(51, &()),
        // SetPushEndpoint failure: the Error answer to sequence 51 had the endpoint been on the server's own network (code 12 InvalidArgument)
        error(
            Action::SetPushEndpoint,
            51,
            &ErrorBody {
                code: 12,
                message: "the endpoint must be https:// (http:// only for push.local_hosts, not 192.168.1.20)".into(),
                retry_after_ms: None,
                limit: None,
                reason: None,
                used: None,
            },
        ),
    ]
}
