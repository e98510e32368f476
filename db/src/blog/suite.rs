//! The blog repository's suite ([`super::BlogStore`]), run once per
//! backend: SQLite's `Blog` and PostgreSQL's `PgBlog` must agree.
