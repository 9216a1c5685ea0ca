//! A realistic, deterministic catalogue of 1,000 tools from 20 servers (50 each) in varied
//! domains and naming styles, for the tool search's test (`tests/search.rs`) and bench
//! (`benches/search.rs`); and the test servers that serve it.
//!
//! Each server has hand-written special tools (what the service is for: `merge_pull_request`,
//! `getForecast`, `scale-deployment`) and, to make up its 50, the usual verbs (list, get,
//! create, update, delete, search) over its entities, with parameters and descriptions in the
//! service's own words. Some servers give titles and annotations, some not.

#![allow(dead_code)] // reason: the test and the bench each use a different part of this module

use mcp_orchestrator::testing::{TestServer, text_result};
use mcp_orchestrator::{Config, Naming, Orchestration, Orchestrator, ServerConfig, Tool};
use serde_json::{Map, Value, json};

/// How a server spells its tool names.
#[derive(Clone, Copy)]
enum Style {
    /// `list_pull_requests`
    Snake,
    /// `listPullRequests`
    Camel,
    /// `list-pull-requests`
    Kebab,
    /// `pull_requests.list` (the collection, then the verb)
    Dotted,
    /// `slack_list_channels`
    Prefixed(&'static str),
}

/// A thing a service manages: its name (singular, plural), what it is, the parameter that
/// identifies one, and the fields a create or an update takes.
struct Entity {
    one: &'static str,
    many: &'static str,
    about: &'static str,
    key: &'static str,
    fields: &'static [&'static str],
}

const fn e(
    one: &'static str,
    many: &'static str,
    about: &'static str,
    key: &'static str,
    fields: &'static [&'static str],
) -> Entity {
    Entity { one, many, about, key, fields }
}

/// A tool of the service's own: its name's words, its description, its parameters.
struct Special {
    words: &'static str,
    description: &'static str,
    params: &'static [&'static str],
}

const fn s(words: &'static str, description: &'static str, params: &'static [&'static str]) -> Special {
    Special { words, description, params }
}

struct Domain {
    server: &'static str,
    service: &'static str,
    style: Style,
    titles: bool,
    /// Parameters every tool takes (the repository, the namespace, the database).
    scope: &'static [&'static str],
    specials: &'static [Special],
    entities: &'static [Entity],
}

/// What a server adds when its own tools are fewer than 50: the admin objects every SaaS API has.
const COMMON: &[Entity] = &[
    e("webhook", "webhooks", "an HTTP callback notified of events", "webhook_id", &["url", "events", "secret"]),
    e("api key", "api keys", "a credential for programmatic access", "key_id", &["name", "scopes", "expires_at"]),
    e("audit log entry", "audit log entries", "a record of who changed what", "entry_id", &["action", "actor"]),
];

const DOMAINS: &[Domain] = &[
    Domain {
        server: "github",
        service: "GitHub",
        style: Style::Snake,
        titles: true,
        scope: &["owner", "repo"],
        specials: &[
            s(
                "merge pull request",
                "Merge a pull request into its base branch (merge, squash or rebase).",
                &["pull_number", "merge_method", "commit_title"],
            ),
            s("add issue comment", "Add a comment to an issue or a pull request.", &["issue_number", "body"]),
            s(
                "request reviewers",
                "Request reviews on a pull request from users or teams.",
                &["pull_number", "reviewers", "team_reviewers"],
            ),
            s(
                "get file contents",
                "Get the contents of a file or a directory in a repository at a ref.",
                &["path", "ref"],
            ),
            s("push files", "Push several files to a branch in a single commit.", &["branch", "files", "message"]),
            s("fork repository", "Fork a repository to your account or an organization.", &["organization"]),
            s("search code", "Search code across GitHub repositories with the code search syntax.", &["q", "per_page"]),
            s(
                "rerun workflow",
                "Re-run a GitHub Actions workflow run, or only its failed jobs.",
                &["run_id", "failed_only"],
            ),
        ],
        entities: &[
            e(
                "repository",
                "repositories",
                "a Git repository with its issues and pull requests",
                "repo_name",
                &["description", "private", "default_branch"],
            ),
            e(
                "issue",
                "issues",
                "a bug report, task or feature request",
                "issue_number",
                &["title", "body", "labels", "assignees"],
            ),
            e(
                "pull request",
                "pull requests",
                "a proposed change from a head branch into a base branch",
                "pull_number",
                &["title", "head", "base", "body", "draft"],
            ),
            e("branch", "branches", "a line of development in the repository", "branch", &["from_ref"]),
            e("commit", "commits", "a snapshot of the repository's files", "sha", &["message", "tree", "parents"]),
            e(
                "release",
                "releases",
                "a tagged version with release notes and assets",
                "release_id",
                &["tag_name", "name", "body", "prerelease"],
            ),
            e("label", "labels", "a colored tag for issues and pull requests", "label_name", &["color", "description"]),
        ],
    },
    Domain {
        server: "gitlab",
        service: "GitLab",
        style: Style::Kebab,
        titles: false,
        scope: &["project_id"],
        specials: &[
            s(
                "accept merge request",
                "Accept (merge) a merge request once its pipeline has passed.",
                &["merge_request_iid", "squash", "should_remove_source_branch"],
            ),
            s("retry pipeline", "Retry the failed jobs of a CI/CD pipeline.", &["pipeline_id"]),
            s("cancel pipeline", "Cancel a running CI/CD pipeline and its jobs.", &["pipeline_id"]),
            s("get job log", "Get the log (trace) of a CI job.", &["job_id"]),
            s(
                "compare branches",
                "Compare two branches, tags or commits and list the commits and diffs between them.",
                &["from", "to"],
            ),
        ],
        entities: &[
            e(
                "project",
                "projects",
                "a GitLab project: repository, issues, merge requests and CI",
                "project_name",
                &["visibility", "description", "namespace_id"],
            ),
            e(
                "merge request",
                "merge requests",
                "a request to merge a source branch into a target branch",
                "merge_request_iid",
                &["source_branch", "target_branch", "title", "description"],
            ),
            e("pipeline", "pipelines", "a CI/CD run of jobs in stages", "pipeline_id", &["ref", "variables"]),
            e(
                "issue",
                "issues",
                "a GitLab issue for planning and tracking work",
                "issue_iid",
                &["title", "description", "labels", "milestone_id"],
            ),
            e(
                "milestone",
                "milestones",
                "a set of issues and merge requests with a due date",
                "milestone_id",
                &["title", "due_date"],
            ),
            e("runner", "runners", "an agent that runs CI jobs", "runner_id", &["description", "tag_list", "paused"]),
            e(
                "deploy key",
                "deploy keys",
                "an SSH key with read or write access to one project",
                "key_id",
                &["title", "key", "can_push"],
            ),
            e(
                "environment",
                "environments",
                "a deployment target such as staging or production",
                "environment_id",
                &["name", "external_url"],
            ),
        ],
    },
    Domain {
        server: "slack",
        service: "Slack",
        style: Style::Prefixed("slack"),
        titles: true,
        scope: &[],
        specials: &[
            s(
                "post message",
                "Post a message to a channel, a private group or a direct message conversation.",
                &["channel", "text", "thread_ts", "blocks"],
            ),
            s("reply to thread", "Reply to a message in its thread.", &["channel", "thread_ts", "text"]),
            s("add reaction", "Add an emoji reaction to a message.", &["channel", "timestamp", "name"]),
            s("invite to channel", "Invite one or more users to a channel.", &["channel", "users"]),
            s("get channel history", "Fetch the recent messages of a channel.", &["channel", "oldest", "limit"]),
            s(
                "set status",
                "Set the authenticated user's status text and emoji.",
                &["status_text", "status_emoji", "expiration"],
            ),
            s("upload file", "Upload a file and share it in channels.", &["channels", "filename", "content"]),
            s(
                "search messages",
                "Search messages across the workspace with Slack's search modifiers.",
                &["query", "sort"],
            ),
        ],
        entities: &[
            e(
                "channel",
                "channels",
                "a public or private conversation space",
                "channel_id",
                &["name", "is_private", "topic", "purpose"],
            ),
            e("user", "users", "a member of the workspace", "user_id", &["real_name", "email", "title"]),
            e(
                "reminder",
                "reminders",
                "a reminder Slackbot sends at a given time",
                "reminder_id",
                &["text", "time", "user"],
            ),
            e(
                "user group",
                "user groups",
                "a named group of users that can be mentioned together",
                "usergroup_id",
                &["name", "handle", "users"],
            ),
            e(
                "bookmark",
                "bookmarks",
                "a link pinned to the top of a channel",
                "bookmark_id",
                &["title", "link", "emoji"],
            ),
            e(
                "scheduled message",
                "scheduled messages",
                "a message to be posted later",
                "scheduled_message_id",
                &["channel", "text", "post_at"],
            ),
            e(
                "canvas",
                "canvases",
                "a long-form document attached to a channel",
                "canvas_id",
                &["title", "document_content"],
            ),
        ],
    },
    Domain {
        server: "postgres",
        service: "PostgreSQL",
        style: Style::Snake,
        titles: false,
        scope: &["database"],
        specials: &[
            s(
                "execute query",
                "Execute a read-only SQL query and return the rows as JSON.",
                &["sql", "params", "max_rows"],
            ),
            s(
                "execute statement",
                "Execute a SQL statement that modifies data (INSERT, UPDATE, DELETE) in a transaction.",
                &["sql", "params"],
            ),
            s("explain query", "Show the execution plan of a SQL query (EXPLAIN ANALYZE).", &["sql", "analyze"]),
            s("describe table", "Describe a table's columns, types, constraints and indexes.", &["schema", "table"]),
            s(
                "list slow queries",
                "List the slowest queries from pg_stat_statements by mean execution time.",
                &["limit"],
            ),
            s(
                "vacuum table",
                "Run VACUUM (optionally ANALYZE) on a table to reclaim storage and update statistics.",
                &["table", "analyze", "full"],
            ),
            s("get table size", "Get a table's size on disk, with its indexes and TOAST data.", &["table"]),
            s("kill connection", "Terminate a backend connection by its process id.", &["pid"]),
        ],
        entities: &[
            e(
                "table",
                "tables",
                "a relation of rows and typed columns",
                "table",
                &["schema", "columns", "primary_key"],
            ),
            e(
                "index",
                "indexes",
                "a B-tree, hash, GIN or GiST index that speeds up lookups",
                "index_name",
                &["table", "columns", "method", "unique"],
            ),
            e("schema", "schemas", "a namespace of tables, views and functions", "schema_name", &["owner"]),
            e(
                "view",
                "views",
                "a stored query that can be selected from like a table",
                "view_name",
                &["definition", "materialized"],
            ),
            e(
                "role",
                "roles",
                "a database user or group with privileges",
                "role_name",
                &["login", "password", "superuser"],
            ),
            e(
                "extension",
                "extensions",
                "an installable package such as postgis or pg_trgm",
                "extension_name",
                &["version", "schema"],
            ),
            e(
                "replication slot",
                "replication slots",
                "a slot that retains WAL for a replica or logical decoding",
                "slot_name",
                &["plugin", "temporary"],
            ),
        ],
    },
    Domain {
        server: "filesystem",
        service: "the local filesystem",
        style: Style::Snake,
        titles: false,
        scope: &[],
        specials: &[
            s("read file", "Read the complete contents of a text file.", &["path", "encoding"]),
            s("read multiple files", "Read several files at once; a failed read does not stop the others.", &["paths"]),
            s(
                "write file",
                "Create a new file or overwrite an existing one with the given content.",
                &["path", "content"],
            ),
            s(
                "edit file",
                "Make line-based edits to a text file and return a git-style diff.",
                &["path", "edits", "dry_run"],
            ),
            s("move file", "Move or rename a file or a directory.", &["source", "destination"]),
            s("copy file", "Copy a file to a new location.", &["source", "destination", "overwrite"]),
            s(
                "search files",
                "Recursively search for files and directories whose names match a glob pattern.",
                &["path", "pattern", "exclude_patterns"],
            ),
            s(
                "grep files",
                "Search file contents for lines matching a regular expression.",
                &["path", "regex", "include"],
            ),
            s("get file info", "Get a file's metadata: size, creation and modification times, permissions.", &["path"]),
            s("list allowed directories", "List the directories this server is allowed to access.", &[]),
            s("directory tree", "Get a recursive tree of files and directories as JSON.", &["path", "depth"]),
            s("tail file", "Read the last lines of a file, like tail -n.", &["path", "lines"]),
            s("change permissions", "Change a file's mode bits (chmod).", &["path", "mode"]),
            s("compute checksum", "Compute the SHA-256 checksum of a file.", &["path", "algorithm"]),
        ],
        entities: &[
            e("directory", "directories", "a folder of files", "path", &["recursive"]),
            e("symlink", "symlinks", "a symbolic link to another path", "path", &["target"]),
            e("archive", "archives", "a zip or tar.gz archive of files", "archive_path", &["files", "format"]),
            e("snapshot", "snapshots", "a point-in-time copy of a directory", "snapshot_id", &["path", "label"]),
            e("watch", "watches", "a subscription to changes under a path", "watch_id", &["path", "events"]),
        ],
    },
    Domain {
        server: "jira",
        service: "Jira",
        style: Style::Prefixed("jira"),
        titles: true,
        scope: &[],
        specials: &[
            s(
                "transition issue",
                "Move an issue through its workflow, e.g. from To Do to In Progress or Done.",
                &["issue_key", "transition_id", "comment"],
            ),
            s("assign issue", "Assign an issue to a user, or unassign it.", &["issue_key", "account_id"]),
            s("add comment", "Add a comment to an issue.", &["issue_key", "body"]),
            s("log work", "Log time spent on an issue.", &["issue_key", "time_spent", "started"]),
            s("search issues jql", "Search for issues with a JQL query.", &["jql", "fields", "max_results"]),
            s(
                "link issues",
                "Link two issues (blocks, relates to, duplicates).",
                &["inward_issue", "outward_issue", "link_type"],
            ),
            s("move issues to sprint", "Move issues into a sprint.", &["sprint_id", "issues"]),
        ],
        entities: &[
            e(
                "issue",
                "issues",
                "a bug, story, task or epic tracked as a ticket",
                "issue_key",
                &["project_key", "summary", "description", "issue_type", "priority"],
            ),
            e(
                "project",
                "projects",
                "a collection of issues with its own workflow",
                "project_key",
                &["name", "lead_account_id", "project_type"],
            ),
            e(
                "sprint",
                "sprints",
                "a time-boxed iteration of a Scrum board",
                "sprint_id",
                &["name", "start_date", "end_date", "goal"],
            ),
            e("board", "boards", "a Scrum or Kanban board", "board_id", &["name", "type", "filter_id"]),
            e(
                "version",
                "versions",
                "a release version of a project",
                "version_id",
                &["name", "release_date", "released"],
            ),
            e(
                "component",
                "components",
                "a part of a project issues can be grouped by",
                "component_id",
                &["name", "lead_account_id"],
            ),
            e("filter", "filters", "a saved JQL search", "filter_id", &["name", "jql"]),
        ],
    },
    Domain {
        server: "calendar",
        service: "Google Calendar",
        style: Style::Camel,
        titles: false,
        scope: &["calendar_id"],
        specials: &[
            s(
                "find free time",
                "Find free time slots when all the given attendees are available.",
                &["attendees", "time_min", "time_max", "duration_minutes"],
            ),
            s(
                "respond to event",
                "Accept, decline or tentatively accept an event invitation.",
                &["event_id", "response"],
            ),
            s("quick add event", "Create an event from a text like 'Lunch with Anna tomorrow at noon'.", &["text"]),
            s("list upcoming events", "List the next events on a calendar, soonest first.", &["max_results"]),
            s("move event", "Move an event to another calendar.", &["event_id", "destination"]),
        ],
        entities: &[
            e(
                "event",
                "events",
                "a meeting, appointment or all-day event",
                "event_id",
                &["summary", "start", "end", "attendees", "location"],
            ),
            e(
                "calendar",
                "calendars",
                "a calendar of events that can be shared",
                "calendar_id",
                &["summary", "time_zone"],
            ),
            e(
                "acl rule",
                "acl rules",
                "who a calendar is shared with and with what role",
                "rule_id",
                &["scope", "role"],
            ),
            e(
                "recurring event",
                "recurring events",
                "an event that repeats by an RRULE",
                "event_id",
                &["summary", "recurrence", "start"],
            ),
            e(
                "working location",
                "working locations",
                "where a person works on a given day",
                "event_id",
                &["date", "type"],
            ),
            e(
                "focus time block",
                "focus time blocks",
                "time blocked for focused work that declines meetings",
                "event_id",
                &["start", "end", "auto_decline"],
            ),
            e(
                "out of office entry",
                "out of office entries",
                "an absence that declines invitations",
                "event_id",
                &["start", "end", "decline_message"],
            ),
            e(
                "appointment schedule",
                "appointment schedules",
                "bookable slots others can reserve",
                "schedule_id",
                &["title", "duration", "availability"],
            ),
        ],
    },
    Domain {
        server: "email",
        service: "Gmail",
        style: Style::Snake,
        titles: true,
        scope: &[],
        specials: &[
            s(
                "send email",
                "Send an email to one or more recipients, with optional CC, BCC and attachments.",
                &["to", "subject", "body", "cc", "bcc", "attachments"],
            ),
            s(
                "reply to email",
                "Reply to an email, keeping it in the same thread.",
                &["message_id", "body", "reply_all"],
            ),
            s("forward email", "Forward an email to other recipients.", &["message_id", "to", "note"]),
            s("mark as read", "Mark emails as read or unread.", &["message_ids", "read"]),
            s("archive email", "Archive emails (remove them from the inbox).", &["message_ids"]),
            s("download attachment", "Download an attachment of an email.", &["message_id", "attachment_id"]),
        ],
        entities: &[
            e("message", "messages", "an email in the mailbox", "message_id", &["raw", "label_ids"]),
            e("draft", "drafts", "an unsent email", "draft_id", &["to", "subject", "body"]),
            e("label", "labels", "a label to organise emails", "label_id", &["name", "color"]),
            e("thread", "threads", "a conversation of emails", "thread_id", &["label_ids"]),
            e("filter", "filters", "a rule that acts on incoming mail", "filter_id", &["criteria", "action"]),
            e("contact", "contacts", "a person in the address book", "contact_id", &["name", "email_address", "phone"]),
            e("signature", "signatures", "the text appended to sent emails", "send_as_email", &["signature"]),
            e(
                "vacation responder",
                "vacation responders",
                "an automatic out-of-office reply",
                "responder_id",
                &["subject", "message", "start_time", "end_time"],
            ),
        ],
    },
    Domain {
        server: "weather",
        service: "OpenWeather",
        style: Style::Camel,
        titles: false,
        scope: &[],
        specials: &[
            s(
                "get current weather",
                "Get the current weather for a city or coordinates: temperature, humidity, wind, conditions.",
                &["location", "units"],
            ),
            s(
                "get forecast",
                "Get the daily weather forecast for the next 1 to 16 days.",
                &["location", "days", "units"],
            ),
            s(
                "get hourly forecast",
                "Get the hour-by-hour forecast for the next 48 hours.",
                &["location", "hours", "units"],
            ),
            s(
                "get weather alerts",
                "Get active severe weather alerts (storms, floods, heat) for an area.",
                &["location", "severity"],
            ),
            s(
                "get air quality",
                "Get the air quality index and pollutant concentrations (PM2.5, PM10, O3, NO2).",
                &["location"],
            ),
            s("get uv index", "Get the current and forecast UV index.", &["location"]),
            s("get historical weather", "Get observed weather for a past date.", &["location", "date"]),
            s("get sunrise sunset", "Get the sunrise, sunset and day length for a date.", &["location", "date"]),
            s("get precipitation radar", "Get a precipitation radar map tile.", &["lat", "lon", "zoom"]),
            s(
                "geocode location",
                "Turn a city name into coordinates for the other weather calls.",
                &["query", "country"],
            ),
            s(
                "get marine forecast",
                "Get wave height, swell and sea temperature for a coastal point.",
                &["lat", "lon"],
            ),
            s("get pollen forecast", "Get the pollen count forecast by plant type.", &["location"]),
        ],
        entities: &[
            e(
                "saved location",
                "saved locations",
                "a place whose weather you follow",
                "location_id",
                &["name", "lat", "lon"],
            ),
            e(
                "alert subscription",
                "alert subscriptions",
                "a notification when weather conditions cross a threshold",
                "subscription_id",
                &["location_id", "condition", "threshold"],
            ),
            e(
                "weather station",
                "weather stations",
                "a personal weather station reporting measurements",
                "station_id",
                &["name", "lat", "lon", "altitude"],
            ),
            e(
                "station measurement",
                "station measurements",
                "readings sent by a weather station",
                "measurement_id",
                &["station_id", "temperature", "pressure"],
            ),
        ],
    },
    Domain {
        server: "kubernetes",
        service: "Kubernetes",
        style: Style::Kebab,
        titles: true,
        scope: &["namespace", "context"],
        specials: &[
            s(
                "get pod logs",
                "Get the logs of a pod's container, optionally of its previous (crashed) instance.",
                &["pod", "container", "previous", "tail_lines"],
            ),
            s("scale deployment", "Scale a deployment to a number of replicas.", &["deployment", "replicas"]),
            s("rollout restart", "Restart a deployment's pods with a rolling update.", &["deployment"]),
            s("rollout undo", "Roll a deployment back to its previous revision.", &["deployment", "to_revision"]),
            s(
                "exec in pod",
                "Run a command in a pod's container and return its output.",
                &["pod", "container", "command"],
            ),
            s("apply manifest", "Apply a YAML manifest (kubectl apply).", &["manifest", "dry_run"]),
            s("cordon node", "Mark a node unschedulable.", &["node"]),
            s(
                "drain node",
                "Evict all pods from a node before maintenance.",
                &["node", "ignore_daemonsets", "grace_period"],
            ),
            s("port forward", "Forward a local port to a pod.", &["pod", "local_port", "pod_port"]),
            s("get events", "List cluster events (warnings, scheduling failures) in a namespace.", &["field_selector"]),
        ],
        entities: &[
            e("pod", "pods", "a group of containers scheduled together", "pod", &["image", "labels"]),
            e(
                "deployment",
                "deployments",
                "a replicated, rolling-updated set of pods",
                "deployment",
                &["image", "replicas", "labels"],
            ),
            e(
                "service",
                "services",
                "a stable network endpoint for a set of pods",
                "service",
                &["type", "ports", "selector"],
            ),
            e("namespace", "namespaces", "a virtual cluster that isolates resources", "name", &["labels"]),
            e("config map", "config maps", "non-secret configuration as key-value pairs", "name", &["data"]),
            e("secret", "secrets", "sensitive data such as passwords and tokens", "name", &["data", "type"]),
            e("ingress", "ingresses", "HTTP routing from outside the cluster to services", "name", &["rules", "tls"]),
        ],
    },
    Domain {
        server: "stripe",
        service: "Stripe",
        style: Style::Dotted,
        titles: false,
        scope: &[],
        specials: &[
            s(
                "payment intents confirm",
                "Confirm a PaymentIntent to charge the customer's payment method.",
                &["payment_intent", "payment_method"],
            ),
            s(
                "payment intents capture",
                "Capture the funds of an authorized PaymentIntent.",
                &["payment_intent", "amount_to_capture"],
            ),
            s(
                "subscriptions cancel",
                "Cancel a customer's subscription, now or at the end of the billing period.",
                &["subscription", "at_period_end"],
            ),
            s("invoices send", "Send an invoice to the customer by email for manual payment.", &["invoice"]),
            s("invoices finalize", "Finalize a draft invoice so that it can be paid.", &["invoice"]),
            s("balance retrieve", "Retrieve the account's current balance, available and pending.", &[]),
            s(
                "checkout sessions create",
                "Create a Checkout Session: a hosted payment page for a one-time payment or a subscription.",
                &["line_items", "mode", "success_url"],
            ),
            s("payment links create", "Create a shareable payment link for a product.", &["line_items"]),
        ],
        entities: &[
            e(
                "customer",
                "customers",
                "a customer with payment methods and billing details",
                "customer",
                &["email", "name", "metadata"],
            ),
            e(
                "payment intent",
                "payment intents",
                "a payment being collected from a customer",
                "payment_intent",
                &["amount", "currency", "customer"],
            ),
            e(
                "subscription",
                "subscriptions",
                "recurring billing of a customer for a price",
                "subscription",
                &["customer", "items", "trial_end"],
            ),
            e(
                "invoice",
                "invoices",
                "a statement of amounts owed by a customer",
                "invoice",
                &["customer", "collection_method", "due_date"],
            ),
            e("product", "products", "a good or service you sell", "product", &["name", "description", "active"]),
            e(
                "price",
                "prices",
                "how much and how often to charge for a product",
                "price",
                &["product", "unit_amount", "currency", "recurring"],
            ),
            e(
                "refund",
                "refunds",
                "money returned to a customer for a charge",
                "refund",
                &["charge", "payment_intent", "amount", "reason"],
            ),
            e(
                "coupon",
                "coupons",
                "a discount applied to invoices or subscriptions",
                "coupon",
                &["percent_off", "amount_off", "duration"],
            ),
        ],
    },
    Domain {
        server: "aws",
        service: "AWS",
        style: Style::Camel,
        titles: false,
        scope: &["region"],
        specials: &[
            s("put object", "Upload a file (object) to an S3 bucket.", &["bucket", "key", "body", "content_type"]),
            s("get object", "Download an object from an S3 bucket.", &["bucket", "key"]),
            s(
                "get presigned url",
                "Create a presigned URL that grants temporary access to an S3 object.",
                &["bucket", "key", "expires_in"],
            ),
            s(
                "invoke lambda function",
                "Invoke a Lambda function with a JSON payload and return its result.",
                &["function_name", "payload", "invocation_type"],
            ),
            s("start instance", "Start a stopped EC2 instance.", &["instance_id"]),
            s("stop instance", "Stop a running EC2 instance.", &["instance_id", "force"]),
            s(
                "get cost and usage",
                "Get the account's cost and usage for a period from Cost Explorer, grouped by service.",
                &["start", "end", "granularity", "group_by"],
            ),
            s(
                "get metric statistics",
                "Get CloudWatch statistics for a metric over a period.",
                &["namespace", "metric_name", "period", "statistics"],
            ),
        ],
        entities: &[
            e("s3 bucket", "s3 buckets", "a container of objects in Amazon S3", "bucket", &["acl", "versioning"]),
            e(
                "ec2 instance",
                "ec2 instances",
                "a virtual machine in EC2",
                "instance_id",
                &["image_id", "instance_type", "key_name"],
            ),
            e(
                "lambda function",
                "lambda functions",
                "serverless code run on demand",
                "function_name",
                &["runtime", "handler", "memory_size"],
            ),
            e(
                "iam role",
                "iam roles",
                "an identity with permission policies that services assume",
                "role_name",
                &["assume_role_policy", "description"],
            ),
            e(
                "security group",
                "security groups",
                "a virtual firewall for instances",
                "group_id",
                &["description", "vpc_id", "ingress_rules"],
            ),
            e(
                "cloudwatch alarm",
                "cloudwatch alarms",
                "an alarm on a metric threshold",
                "alarm_name",
                &["metric_name", "threshold", "comparison_operator"],
            ),
            e("sqs queue", "sqs queues", "a message queue", "queue_url", &["visibility_timeout", "fifo"]),
        ],
    },
    Domain {
        server: "notion",
        service: "Notion",
        style: Style::Kebab,
        titles: true,
        scope: &[],
        specials: &[
            s(
                "query database",
                "Query a database with filters and sorts and return its pages.",
                &["database_id", "filter", "sorts"],
            ),
            s(
                "append block children",
                "Append content blocks (paragraphs, lists, to-dos) to a page.",
                &["block_id", "children"],
            ),
            s("search workspace", "Search pages and databases by title across the workspace.", &["query", "filter"]),
            s("get page property", "Get one property value of a page.", &["page_id", "property_id"]),
            s("duplicate page", "Duplicate a page with its content.", &["page_id", "parent_id"]),
        ],
        entities: &[
            e("page", "pages", "a document in the workspace", "page_id", &["parent_id", "title", "properties", "icon"]),
            e(
                "database",
                "databases",
                "a table of pages with typed properties",
                "database_id",
                &["parent_id", "title", "properties"],
            ),
            e(
                "block",
                "blocks",
                "a piece of content: paragraph, heading, to-do, image",
                "block_id",
                &["type", "content"],
            ),
            e("comment", "comments", "a comment on a page or in a discussion", "comment_id", &["page_id", "rich_text"]),
            e("user", "users", "a member or guest of the workspace", "user_id", &["name", "email"]),
            e("template", "templates", "a page template for new pages", "template_id", &["name", "content"]),
            e("teamspace", "teamspaces", "a shared space for a team's pages", "teamspace_id", &["name", "members"]),
        ],
    },
    Domain {
        server: "spotify",
        service: "Spotify",
        style: Style::Snake,
        titles: false,
        scope: &[],
        specials: &[
            s(
                "play",
                "Start or resume playback of a track, album, artist or playlist on the active device.",
                &["uri", "device_id", "position_ms"],
            ),
            s("pause", "Pause playback on the active device.", &["device_id"]),
            s("skip to next", "Skip to the next track in the queue.", &["device_id"]),
            s("skip to previous", "Go back to the previous track.", &["device_id"]),
            s("set volume", "Set the playback volume in percent.", &["volume_percent", "device_id"]),
            s("get currently playing", "Get the track currently playing and the playback position.", &[]),
            s("add to queue", "Add a track or episode to the end of the playback queue.", &["uri"]),
            s(
                "get recommendations",
                "Get track recommendations from seed artists, genres and tracks.",
                &["seed_artists", "seed_genres", "seed_tracks"],
            ),
            s("transfer playback", "Move playback to another device.", &["device_id", "play"]),
            s("get recently played", "Get the tracks you played recently.", &["limit", "after"]),
        ],
        entities: &[
            e("playlist", "playlists", "an ordered list of tracks", "playlist_id", &["name", "description", "public"]),
            e("playlist track", "playlist tracks", "a song in a playlist", "playlist_id", &["uris", "position"]),
            e("saved track", "saved tracks", "a song in your library (liked songs)", "track_id", &["ids"]),
            e("saved album", "saved albums", "an album in your library", "album_id", &["ids"]),
            e("followed artist", "followed artists", "an artist you follow", "artist_id", &["ids"]),
            e("saved show", "saved shows", "a podcast in your library", "show_id", &["ids"]),
        ],
    },
    Domain {
        server: "twilio",
        service: "Twilio",
        style: Style::Camel,
        titles: false,
        scope: &["account_sid"],
        specials: &[
            s("send sms", "Send an SMS text message to a phone number.", &["to", "from", "body", "media_url"]),
            s(
                "send whatsapp message",
                "Send a WhatsApp message from an approved sender.",
                &["to", "from", "body", "content_sid"],
            ),
            s(
                "make call",
                "Place an outbound phone call that plays a message or runs TwiML.",
                &["to", "from", "twiml", "url"],
            ),
            s(
                "lookup phone number",
                "Look up a phone number's carrier, line type and caller name.",
                &["phone_number", "fields"],
            ),
            s(
                "start verification",
                "Send a one-time verification code by SMS, voice or email.",
                &["to", "channel", "service_sid"],
            ),
            s("check verification", "Check a one-time code the user entered.", &["to", "code", "service_sid"]),
        ],
        entities: &[
            e("message", "messages", "an SMS, MMS or WhatsApp message sent or received", "message_sid", &["status"]),
            e("call", "calls", "an inbound or outbound phone call", "call_sid", &["status", "url"]),
            e(
                "phone number",
                "phone numbers",
                "a number you own that can send and receive",
                "phone_number_sid",
                &["friendly_name", "sms_url", "voice_url"],
            ),
            e(
                "conversation",
                "conversations",
                "a multi-party, multi-channel conversation",
                "conversation_sid",
                &["friendly_name", "attributes"],
            ),
            e("recording", "recordings", "an audio recording of a call", "recording_sid", &["status"]),
            e(
                "messaging service",
                "messaging services",
                "a pool of senders with shared settings",
                "service_sid",
                &["friendly_name", "inbound_request_url"],
            ),
            e(
                "sip trunk",
                "sip trunks",
                "a connection between your PBX and the phone network",
                "trunk_sid",
                &["friendly_name", "domain_name"],
            ),
        ],
    },
    Domain {
        server: "crm",
        service: "Salesforce",
        style: Style::Snake,
        titles: true,
        scope: &[],
        specials: &[
            s(
                "convert lead",
                "Convert a qualified lead into an account, a contact and optionally an opportunity.",
                &["lead_id", "create_opportunity", "opportunity_name"],
            ),
            s("run soql query", "Run a SOQL query against Salesforce records.", &["soql"]),
            s(
                "log activity",
                "Log a call, email or meeting against a record.",
                &["what_id", "who_id", "subject", "type"],
            ),
            s(
                "get pipeline report",
                "Get open opportunities by stage with totals, for the sales forecast.",
                &["owner_id", "close_date_from", "close_date_to"],
            ),
            s(
                "merge duplicates",
                "Merge duplicate accounts, contacts or leads into a master record.",
                &["master_id", "duplicate_ids"],
            ),
        ],
        entities: &[
            e(
                "lead",
                "leads",
                "a prospect who may become a customer",
                "lead_id",
                &["first_name", "last_name", "company", "email", "lead_source"],
            ),
            e(
                "contact",
                "contacts",
                "a person at an account",
                "contact_id",
                &["first_name", "last_name", "email", "account_id"],
            ),
            e("account", "accounts", "a company you sell to", "account_id", &["name", "industry", "annual_revenue"]),
            e(
                "opportunity",
                "opportunities",
                "a potential deal with a stage and an amount",
                "opportunity_id",
                &["name", "stage", "amount", "close_date"],
            ),
            e("case", "cases", "a customer's question or problem", "case_id", &["subject", "status", "priority"]),
            e("task", "tasks", "a to-do for a sales rep", "task_id", &["subject", "due_date", "owner_id"]),
            e(
                "campaign",
                "campaigns",
                "a marketing initiative whose leads are tracked",
                "campaign_id",
                &["name", "type", "budget"],
            ),
            e(
                "quote",
                "quotes",
                "a proposed price for an opportunity",
                "quote_id",
                &["opportunity_id", "line_items", "expiration_date"],
            ),
        ],
    },
    Domain {
        server: "helpdesk",
        service: "Zendesk",
        style: Style::Snake,
        titles: false,
        scope: &[],
        specials: &[
            s("close ticket", "Mark a support ticket as solved and notify the requester.", &["ticket_id", "comment"]),
            s(
                "add ticket comment",
                "Add a public reply or an internal note to a support ticket.",
                &["ticket_id", "body", "public"],
            ),
            s(
                "apply macro",
                "Apply a macro (canned response and field changes) to a ticket.",
                &["ticket_id", "macro_id"],
            ),
            s("merge tickets", "Merge tickets into a target ticket.", &["target_id", "source_ids"]),
            s(
                "get satisfaction ratings",
                "Get the customer satisfaction (CSAT) ratings of solved tickets.",
                &["score", "start_time"],
            ),
            s(
                "search help center",
                "Search help center articles for an answer to a customer's question.",
                &["query", "locale"],
            ),
        ],
        entities: &[
            e(
                "ticket",
                "tickets",
                "a customer support request",
                "ticket_id",
                &["subject", "description", "requester_id", "priority", "status"],
            ),
            e(
                "end user",
                "end users",
                "a customer who asks for support",
                "user_id",
                &["name", "email", "organization_id"],
            ),
            e(
                "organization",
                "organizations",
                "a customer company its users belong to",
                "organization_id",
                &["name", "domain_names"],
            ),
            e("macro", "macros", "a saved set of actions for tickets", "macro_id", &["title", "actions"]),
            e("article", "articles", "a help center article", "article_id", &["title", "body", "section_id"]),
            e(
                "sla policy",
                "sla policies",
                "response and resolution targets",
                "policy_id",
                &["title", "filter", "policy_metrics"],
            ),
            e(
                "trigger",
                "triggers",
                "a rule that runs when tickets are created or updated",
                "trigger_id",
                &["title", "conditions", "actions"],
            ),
        ],
    },
    Domain {
        server: "monitoring",
        service: "Datadog",
        style: Style::Prefixed("dd"),
        titles: true,
        scope: &[],
        specials: &[
            s(
                "query metrics",
                "Query timeseries metric data, e.g. avg:system.cpu.user{host:web-1}.",
                &["query", "from", "to"],
            ),
            s(
                "search logs",
                "Search logs with a query over a time range, newest first.",
                &["query", "from", "to", "limit"],
            ),
            s(
                "mute monitor",
                "Mute a monitor (silence its alerts) until a given time.",
                &["monitor_id", "end", "scope"],
            ),
            s("unmute monitor", "Unmute a monitor so that it alerts again.", &["monitor_id"]),
            s("get active alerts", "List monitors currently in an alert or warning state.", &["tags"]),
            s("list hosts", "List the hosts reporting to the account, with their metadata and status.", &["filter"]),
            s(
                "get service dependencies",
                "Get the upstream and downstream services of an APM service.",
                &["service", "env"],
            ),
        ],
        entities: &[
            e(
                "monitor",
                "monitors",
                "an alert on a metric, log or check",
                "monitor_id",
                &["name", "type", "query", "message", "thresholds"],
            ),
            e(
                "dashboard",
                "dashboards",
                "a set of graphs and widgets",
                "dashboard_id",
                &["title", "widgets", "layout_type"],
            ),
            e(
                "incident",
                "incidents",
                "an outage or problem being handled",
                "incident_id",
                &["title", "severity", "commander"],
            ),
            e(
                "slo",
                "slos",
                "a service level objective with a target and an error budget",
                "slo_id",
                &["name", "target", "timeframe"],
            ),
            e(
                "downtime",
                "downtimes",
                "a scheduled silence for maintenance",
                "downtime_id",
                &["scope", "start", "end"],
            ),
            e(
                "synthetic test",
                "synthetic tests",
                "an API or browser check run from locations",
                "public_id",
                &["name", "type", "locations"],
            ),
            e(
                "notebook",
                "notebooks",
                "a document mixing graphs and text for investigations",
                "notebook_id",
                &["name", "cells"],
            ),
        ],
    },
    Domain {
        server: "docker",
        service: "Docker",
        style: Style::Snake,
        titles: false,
        scope: &[],
        specials: &[
            s(
                "run container",
                "Create and start a container from an image, like docker run.",
                &["image", "name", "ports", "env", "volumes", "detach"],
            ),
            s("stop container", "Stop a running container.", &["container", "timeout"]),
            s("restart container", "Restart a container.", &["container"]),
            s("get container logs", "Get a container's stdout and stderr logs.", &["container", "tail", "since"]),
            s("exec command", "Run a command inside a running container.", &["container", "cmd", "workdir"]),
            s(
                "build image",
                "Build an image from a Dockerfile and a build context.",
                &["context", "dockerfile", "tag"],
            ),
            s("pull image", "Pull an image from a registry.", &["image", "tag"]),
            s("push image", "Push an image to a registry.", &["image", "tag"]),
            s("compose up", "Start the services of a docker-compose project.", &["project_dir", "services", "build"]),
            s("container stats", "Get live CPU, memory and network usage of containers.", &["container"]),
            s("prune system", "Remove stopped containers, dangling images and unused networks.", &["volumes"]),
        ],
        entities: &[
            e(
                "container",
                "containers",
                "a running or stopped instance of an image",
                "container",
                &["image", "labels"],
            ),
            e("image", "images", "a packaged filesystem and config to run containers from", "image", &["tag"]),
            e("volume", "volumes", "persistent storage for containers", "volume_name", &["driver", "labels"]),
            e("network", "networks", "a virtual network containers attach to", "network", &["driver", "subnet"]),
            e(
                "registry credential",
                "registry credentials",
                "a login for a container registry",
                "registry",
                &["username", "password"],
            ),
        ],
    },
    Domain {
        server: "maps",
        service: "Google Maps",
        style: Style::Snake,
        titles: false,
        scope: &[],
        specials: &[
            s(
                "geocode address",
                "Convert an address into geographic coordinates (latitude and longitude).",
                &["address", "region"],
            ),
            s("reverse geocode", "Convert coordinates into the nearest human-readable address.", &["lat", "lng"]),
            s(
                "get directions",
                "Get directions between an origin and a destination by car, transit, bicycle or on foot.",
                &["origin", "destination", "mode", "departure_time"],
            ),
            s(
                "distance matrix",
                "Get travel distance and time for a matrix of origins and destinations.",
                &["origins", "destinations", "mode"],
            ),
            s(
                "search places",
                "Search for places (restaurants, shops, landmarks) matching a text query near a location.",
                &["query", "location", "radius"],
            ),
            s(
                "get place details",
                "Get a place's details: address, phone number, opening hours, rating, reviews.",
                &["place_id", "fields"],
            ),
            s("nearby search", "Find places of a type within a radius of a point.", &["location", "radius", "type"]),
            s("get elevation", "Get the elevation above sea level of points.", &["locations"]),
            s("get timezone", "Get the time zone of a location at a timestamp.", &["location", "timestamp"]),
            s("snap to roads", "Snap GPS points to the most likely roads travelled.", &["path", "interpolate"]),
            s("autocomplete place", "Suggest places as the user types an address.", &["input", "session_token"]),
            s(
                "get static map",
                "Render a static map image with markers and paths.",
                &["center", "zoom", "size", "markers"],
            ),
        ],
        entities: &[
            e("saved place", "saved places", "a place saved to one of your lists", "place_id", &["list_id", "note"]),
            e("place list", "place lists", "a list of saved places", "list_id", &["name", "description"]),
            e(
                "geofence",
                "geofences",
                "an area that triggers events on entry or exit",
                "geofence_id",
                &["center", "radius", "name"],
            ),
            e("route", "routes", "a saved route with waypoints", "route_id", &["name", "waypoints", "travel_mode"]),
        ],
    },
];

impl Style {
    fn name(self, verb: &str, words: &str) -> String {
        let snake = |t: &str| t.replace(' ', "_");
        match self {
            Style::Snake => snake(format!("{verb} {words}").trim()),
            Style::Prefixed(p) => snake(&format!("{p} {verb} {words}").trim().replace("  ", " ")),
            Style::Kebab => format!("{verb} {words}").trim().replace(' ', "-"),
            Style::Camel => {
                let mut out = String::new();
                for (i, w) in format!("{verb} {words}").split_whitespace().enumerate() {
                    if i == 0 {
                        out.push_str(w);
                    } else {
                        let mut c = w.chars();
                        out.extend(c.next().map(|f| f.to_ascii_uppercase()));
                        out.push_str(c.as_str());
                    }
                }
                out
            }
            // `pull_requests.list`; a special's words already say the collection first.
            Style::Dotted if verb.is_empty() => {
                let mut parts: Vec<&str> = words.split(' ').collect();
                let last = parts.pop().unwrap_or_default();
                format!("{}.{last}", parts.join("_"))
            }
            Style::Dotted => format!("{}.{verb}", snake(words)),
        }
    }
}

fn title_case(text: &str) -> String {
    text.split_whitespace()
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A parameter's schema, with a description in words (`owner`: the entity it belongs to).
fn param(name: &str, owner: Option<&str>) -> Value {
    let plural = name.ends_with('s') && !name.ends_with("ss") && !["status", "previous", "radius"].contains(&name);
    let kind = if plural {
        json!({"type": "array", "items": {"type": "string"}})
    } else if ["limit", "replicas", "days", "hours", "max_results", "per_page", "lines", "depth", "amount", "zoom"]
        .contains(&name)
    {
        json!({"type": "integer"})
    } else if name.starts_with("is_") || ["private", "draft", "dry_run", "force", "public", "detach"].contains(&name) {
        json!({"type": "boolean"})
    } else {
        json!({"type": "string"})
    };
    let mut schema = kind;
    let words = name.replace('_', " ");
    let description = match name {
        "owner" => "The account or organization that owns the repository.".to_string(),
        "repo" => "The repository's name.".to_string(),
        "namespace" => "The namespace (default: the context's).".to_string(),
        "context" => "The kubeconfig context of the cluster.".to_string(),
        "region" => "The AWS region, e.g. us-east-1.".to_string(),
        "limit" | "max_results" | "per_page" => "How many results to return at most.".to_string(),
        "cursor" => "The cursor from the previous page.".to_string(),
        "query" | "q" => "The search query.".to_string(),
        _ => match owner {
            Some(owner) => format!("The {owner}'s {words}."),
            None => format!("The {words}."),
        },
    };
    schema["description"] = Value::String(description);
    schema
}

fn schema(params: &[&str], owner: Option<&str>) -> Value {
    let mut properties = Map::new();
    for p in params {
        properties.insert(p.to_string(), param(p, owner));
    }
    let required: Vec<&str> = params.iter().take(1).copied().collect();
    json!({"type": "object", "properties": properties, "required": required})
}

struct Draft<'a> {
    name: String,
    title: &'a str,
    description: String,
    params: Vec<&'a str>,
    owner: Option<&'a str>,
    hints: Value,
}

fn make_tool(d: &Domain, t: Draft<'_>) -> Tool {
    let Draft { name, title, description, params, owner, hints } = t;
    let mut tool = json!({
        "name": name,
        "description": description,
        "inputSchema": schema(&params, owner),
    });
    if d.titles {
        tool["title"] = Value::String(title_case(title));
        tool["annotations"] = hints;
    }
    serde_json::from_value(tool).expect("a tool")
}

/// One server's 50 tools.
fn tools_of(d: &Domain) -> Vec<Tool> {
    let mut tools = Vec::new();
    for sp in d.specials {
        let params: Vec<&str> = d.scope.iter().chain(sp.params).copied().collect();
        let name = d.style.name("", sp.words);
        let description = sp.description.to_string();
        tools.push(make_tool(d, Draft { name, title: sp.words, description, params, owner: None, hints: json!({}) }));
    }
    let service = d.service;
    'entities: for en in d.entities.iter().chain(COMMON) {
        let (one, many, about, key) = (en.one, en.many, en.about, en.key);
        let fields = en.fields.join(", ").replace('_', " ");
        let verbs: [(&str, &str, String, Vec<&str>, Value); 6] = [
            (
                "list",
                many,
                format!(
                    "List {many} in {service}, newest first. Results are paginated: pass the cursor of the previous page to get the next."
                ),
                vec!["limit", "cursor"],
                json!({"readOnlyHint": true}),
            ),
            (
                "get",
                one,
                format!("Get one {one} by its {}, with all its details.", key.replace('_', " ")),
                vec![key],
                json!({"readOnlyHint": true}),
            ),
            (
                "create",
                one,
                format!("Create a new {one} ({about})."),
                en.fields.to_vec(),
                json!({"readOnlyHint": false}),
            ),
            (
                "update",
                one,
                format!("Update an existing {one}: change its {fields}."),
                std::iter::once(key).chain(en.fields.iter().copied()).collect(),
                json!({"idempotentHint": true}),
            ),
            (
                "delete",
                one,
                format!("Delete a {one} permanently. This cannot be undone."),
                vec![key],
                json!({"destructiveHint": true}),
            ),
            (
                "search",
                many,
                format!("Search {service} {many} by keyword, returning the best matches."),
                vec!["query", "limit"],
                json!({"readOnlyHint": true}),
            ),
        ];
        for (verb, noun, description, own, hints) in verbs {
            if tools.len() == 50 {
                break 'entities;
            }
            let params: Vec<&str> = d.scope.iter().copied().chain(own).collect();
            // Stripe-like names go by the collection: `refunds.create`.
            let noun = if matches!(d.style, Style::Dotted) { many } else { noun };
            let name = d.style.name(verb, noun);
            let title = format!("{verb} {noun}");
            tools.push(make_tool(d, Draft { name, title: &title, description, params, owner: Some(one), hints }));
        }
    }
    assert_eq!(tools.len(), 50, "{} has 50 tools", d.server);
    tools
}

/// Every server's name and tools, in priority order.
pub fn catalogue() -> Vec<(&'static str, Vec<Tool>)> {
    DOMAINS.iter().map(|d| (d.server, tools_of(d))).collect()
}

/// The catalogue's test servers (started) and an orchestrator over them, `prefix_on_collision`
/// naming (what a host with 20 servers would use), not initialized yet.
pub fn start() -> (Vec<TestServer>, Orchestrator) {
    let mut servers = Vec::new();
    let mut configs = Vec::new();
    for (i, (name, tools)) in catalogue().into_iter().enumerate() {
        let mut b = TestServer::builder().name(name);
        for tool in tools {
            b = b.tool(tool, |_| Ok(text_result("ok")));
        }
        let server = b.start().expect("test server");
        let mut c = ServerConfig::sse(name, server.url());
        c.priority = i as u32;
        configs.push(c);
        servers.push(server);
    }
    let mut o = Orchestration::default();
    o.naming = Naming::PrefixOnCollision;
    (servers, Orchestrator::new(Config::new(configs, o).expect("config")))
}

/// Natural-language requests, each with the tool (server, original name) that answers it.
pub const QUERIES: &[(&str, &str, &str)] = &[
    ("open a pull request from my feature branch", "github", "create_pull_request"),
    ("merge the pull request", "github", "merge_pull_request"),
    ("comment on a github issue", "github", "add_issue_comment"),
    ("tag a new release of the repo", "github", "create_release"),
    ("re-run the failed CI workflow", "github", "rerun_workflow"),
    ("post a message in the #general channel on slack", "slack", "slack_post_message"),
    ("invite a colleague to a slack channel", "slack", "slack_invite_to_channel"),
    ("run a SQL query against the database", "postgres", "execute_query"),
    ("which postgres queries are slowest", "postgres", "list_slow_queries"),
    ("create a new table in postgres", "postgres", "create_table"),
    ("read the contents of a file", "filesystem", "read_file"),
    ("rename a file", "filesystem", "move_file"),
    ("find files matching *.log", "filesystem", "search_files"),
    ("file a jira ticket for this bug", "jira", "jira_create_issue"),
    ("move the jira issue to done", "jira", "jira_transition_issue"),
    ("when is everyone free for a call", "calendar", "findFreeTime"),
    ("send an email to the customer", "email", "send_email"),
    ("reply to the last email from Anna", "email", "reply_to_email"),
    ("what's the weather forecast for the weekend in Paris", "weather", "getForecast"),
    ("is there a storm warning near me", "weather", "getWeatherAlerts"),
    ("how polluted is the air in Delhi today", "weather", "getAirQuality"),
    ("show the logs of the crashing pod", "kubernetes", "get-pod-logs"),
    ("scale the web deployment to 5 replicas", "kubernetes", "scale-deployment"),
    ("restart the api deployment", "kubernetes", "rollout-restart"),
    ("delete a kubernetes namespace", "kubernetes", "delete-namespace"),
    ("refund a customer's payment", "stripe", "refunds.create"),
    ("cancel a customer's subscription", "stripe", "subscriptions.cancel"),
    ("issue an invoice to a customer", "stripe", "invoices.create"),
    ("upload a file to an S3 bucket", "aws", "putObject"),
    ("invoke a lambda function", "aws", "invokeLambdaFunction"),
    ("add a page to the notion workspace", "notion", "create-page"),
    ("play a song on spotify", "spotify", "play"),
    ("what song is playing right now", "spotify", "get_currently_playing"),
    ("send a text message to a phone number", "twilio", "sendSms"),
    ("text a verification code to a user", "twilio", "startVerification"),
    ("add a new sales lead", "crm", "create_lead"),
    ("turn this lead into an opportunity", "crm", "convert_lead"),
    ("close a support ticket", "helpdesk", "close_ticket"),
    ("mute the alerting monitor during maintenance", "monitoring", "dd_mute_monitor"),
    ("search the error logs from the last hour", "monitoring", "dd_search_logs"),
    ("start a docker container from an image", "docker", "run_container"),
    ("build a docker image from the Dockerfile", "docker", "build_image"),
    ("driving directions from the airport to the hotel", "maps", "get_directions"),
    ("convert an address into latitude and longitude", "maps", "geocode_address"),
    ("find restaurants near the office", "maps", "search_places"),
];

/// Requests written with the others that a word search cannot rank in the top 3, kept to be
/// reported (`tests/search.rs` prints their ranks) rather than dropped: each needs the meaning
/// of a word, not the word.
pub const HARD_QUERIES: &[(&str, &str, &str)] = &[
    // `list-pipelines` never says "CI"; `create-`, `cancel-` and `retry-pipeline` do.
    ("show the CI pipelines of a gitlab project", "gitlab", "list-pipelines"),
    // "schedule" is in the name of the appointment-schedule tools; `createEvent` only says
    // "meeting" in its description.
    ("schedule a meeting with the team next tuesday", "calendar", "createEvent"),
    // "spend" means cost; no tool says "spend".
    ("how much did we spend on AWS last month", "aws", "getCostAndUsage"),
];
