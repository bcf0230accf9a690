"""The students' kiosk (docs/contract.md §7): ``/borne``, its enrolment and its data.

A kiosk is a browser (a wall screen, a cheap tablet at a station) holding a kiosk
credential in an HttpOnly, SameSite=Strict cookie, got once from a one-time enrolment link
(``flask --app app kiosk enrol STATION`` or the Bornes page). Without a valid credential
every kiosk URL answers the enrolment screen or a 401, never students' data.

The page is a shell (``templates/kiosk/borne.html``) with no data in it, so that the service
worker can keep it loading while the server is down; ``static/kiosk.js`` polls
``/borne/etat`` (the read side's ``app.read.kiosk``) and posts every scan to the scan API
under the cookie, through an outbox in IndexedDB (``static/outbox.js``).
"""
