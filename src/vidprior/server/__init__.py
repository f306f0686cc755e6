"""`vidprior serve`: the web app. Upload or pick the demo, paint a mask, run, watch, compare, download.

A FastAPI app over a home folder kept across restarts::

    HOME/videos/ID/   the upload (source.EXT), info.json, painted keyframes/, an uploaded mask (mask/ or mask.EXT)
    HOME/jobs/ID/     one job (see `vidprior.workqueue`): job.json, mask/, run/, result.mp4

The page (``vidprior/web/index.html``, no external resources) talks to this JSON API:

    GET  /api/methods                     tasks -> methods, defaults, summaries, settings, budgets
    GET  /api/videos                      the uploaded videos, newest first (the same bytes are kept once)
    POST /api/videos                      upload a video (multipart 'file')
    POST /api/videos/demo                 the built-in demo clip
    GET  /api/videos/{vid}                its record, with its uploaded mask and painted keyframes
    GET  /api/videos/{vid}/frames/{i}     frame i as PNG
    GET, PUT /api/videos/{vid}/keyframes  the painted keyframes kept for it ({"keyframes": {i: PNG data URL}})
    POST /api/videos/{vid}/carried/{i}    the mask painted keyframes carry to frame i, as an overlay (?dilate=px)
    POST /api/videos/{vid}/mask           upload masks: a mask video, one image or several images (a folder)
    GET  /api/videos/{vid}/mask/{i}       frame i of the uploaded mask as an overlay (?dilate=px)
    DELETE /api/videos/{vid}/mask         drop the uploaded mask
    POST /api/jobs                        {video, task, method, budget, factor, sigma, param, dilate, shadow, keyframes,
                                          preview} (no keyframes: the uploaded mask; preview: frame to run
                                          a quick preview on 8 frames around)
    GET  /api/jobs, /api/jobs/{id}        records with live progress (bars, elapsed, preview)
    GET  /api/jobs/{id}/preview           the fit's latest preview image
    GET  /api/jobs/{id}/frames/{i}        result frame i as PNG (the before/after slider)
    GET  /api/jobs/{id}/mask/{i}          where frame i was filled, as an overlay
    GET  /api/jobs/{id}/result            the result (downloaded, or played by the page's <video>)
    POST /api/jobs/{id}/cancel, /again    stop it (checkpoint kept); queue a finished one again
    DELETE /api/jobs/{id}                 forget a job that is not running, with its files

Bad requests get HTTP 400 (413 for too large uploads) with a one-line ``detail`` the page shows.

The app and the page are in `.app`, the routes by resource in `.videos` and `.jobs`, what they share
(the app's state as dependencies) in `.common`.
"""

from .app import create_app, launch, serve

__all__ = ["create_app", "launch", "serve"]
