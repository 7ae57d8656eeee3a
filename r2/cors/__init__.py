"""CORS policies: frozen models, the two JSON formats, R2's validation rules, lint and a local evaluator.

Formats: the R2 dashboard's JSON array of rules (what people paste from the guide) and the S3 API's
``{"CORSRules": [...]}`` (docs/guide.md, "CORS"). Both parse into `CorsPolicy` and export back exactly
(a field absent in the input stays absent). The S3 form is what is stored and sent.

`validate()` returns problems (the policy must not be sent), `lint()` returns warnings (it can be sent
but something will likely not work), `evaluate()` answers a preflight question locally the way
R2/S3 does: the first rule whose origin, method and headers all match wins.

One module per concern: `model` (rules, policies, limits, problems), `parse` (both formats),
`validate` (R2's rules, origins as browsers send them), `matching` (origin/header matching and the
local preflight), `lint` (warnings), `presets` (the app's preset, rows, diffs). Import from `r2.cors`.
"""

from r2.cors.lint import ATTACKER_DOMAIN, WildcardReach, lint, wildcard_reach
from r2.cors.matching import (
    Evaluation,
    evaluate,
    header_matches,
    normalise_headers,
    origin_matches,
    require_method,
)
from r2.cors.model import (
    FIELDS,
    MAX_AGE_LIMIT,
    MAX_ID_LENGTH,
    MAX_RULES,
    METHODS,
    PROPAGATION_NOTE,
    UPLOAD_HEADERS,
    CorsPolicy,
    CorsRule,
    InvalidPolicy,
    Problem,
    same_policy,
)
from r2.cors.parse import from_s3_response, parse
from r2.cors.presets import check, diff, preset, preset_rules, rows
from r2.cors.validate import origin_problem, require_valid, validate

__all__ = [
    "ATTACKER_DOMAIN",
    "FIELDS",
    "MAX_AGE_LIMIT",
    "MAX_ID_LENGTH",
    "MAX_RULES",
    "METHODS",
    "PROPAGATION_NOTE",
    "UPLOAD_HEADERS",
    "CorsPolicy",
    "CorsRule",
    "Evaluation",
    "InvalidPolicy",
    "Problem",
    "WildcardReach",
    "check",
    "diff",
    "evaluate",
    "from_s3_response",
    "header_matches",
    "lint",
    "normalise_headers",
    "origin_matches",
    "origin_problem",
    "parse",
    "preset",
    "preset_rules",
    "require_method",
    "require_valid",
    "rows",
    "same_policy",
    "validate",
    "wildcard_reach",
]
