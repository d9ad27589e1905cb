"""Probes for load balancers and orchestrators: alive, and ready to take traffic."""

from flask import Blueprint, Response, jsonify

from . import get_service

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def view_healthz() -> Response:
    """The process answers: restart it only when this fails."""
    return jsonify(status="alive")


@bp.route("/readyz")
def view_readyz() -> Response:
    """Storage is reachable and writable: send traffic here only when this is 200.

    :raises StorageUnavailable: it is not (503, with the reason).
    """
    get_service().storage.check()
    return jsonify(status="ready")
