//! Migration and ORM tools whose reset, drop and rollback commands erase data.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::Flow;

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos: Vec<String> = c.positionals().iter().map(|a| a.s().to_string()).collect();
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    let destroy = |e: &mut Engine, why: String| {
        e.hit(Hit::new(Effect::Destroy, why));
        Some(Flow::opaque())
    };
    let write = |e: &mut Engine, why: String| {
        e.hit(Hit::new(Effect::Write, why));
        Some(Flow::opaque())
    };
    match c.name {
        "prisma" => match (p(0), p(1)) {
            ("migrate", "reset") => destroy(
                e,
                "prisma migrate reset drops the database and re-creates it".into(),
            ),
            ("db", "push") if c.has("--accept-data-loss") || c.has("--force-reset") => destroy(
                e,
                "prisma db push --accept-data-loss / --force-reset drops data to match the schema"
                    .into(),
            ),
            ("migrate", "dev") if c.has("--force") => destroy(
                e,
                "prisma migrate dev --force may reset the database".into(),
            ),
            ("migrate", "diff" | "status")
            | ("validate" | "format" | "version" | "-v" | "--version", _)
            | ("generate", _) => {
                if p(0) == "format" || p(0) == "generate" {
                    return write(e, format!("prisma {} writes generated files", p(0)));
                }
                Some(Flow::opaque())
            }
            _ => write(e, format!("prisma {} {} changes the database", p(0), p(1))),
        },
        "rails" | "rake" => {
            let task = pos.iter().find(|t| t.starts_with("db:")).cloned()?;
            let destructive = [
                "db:drop",
                "db:reset",
                "db:purge",
                "db:migrate:reset",
                "db:rollback",
                "db:schema:load",
                "db:structure:load",
                "db:truncate_all",
                "db:migrate:down",
                "db:setup:replant",
                "db:seed:replant",
                "db:prepare:reset",
            ];
            if destructive
                .iter()
                .any(|d| task == *d || task.starts_with(&format!("{d}:")))
            {
                destroy(
                    e,
                    format!("{} {task} drops or rewinds the database", c.name),
                )
            } else {
                write(e, format!("{} {task} changes the database", c.name))
            }
        }
        "manage.py" | "django-admin" => django(e, &pos),
        "alembic" => match p(0) {
            "downgrade" => destroy(
                e,
                "alembic downgrade rolls migrations back, dropping their tables and columns".into(),
            ),
            "upgrade" | "stamp" | "revision" | "merge" => write(
                e,
                format!("alembic {} changes the database or migrations", p(0)),
            ),
            _ => Some(Flow::opaque()),
        },
        "knex" => {
            if p(0).starts_with("migrate:rollback") || p(0) == "migrate:down" {
                destroy(e, format!("knex {} rolls migrations back", p(0)))
            } else {
                write(e, format!("knex {} changes the database", p(0)))
            }
        }
        "sequelize" | "sequelize-cli" => {
            if p(0) == "db:drop"
                || p(0).starts_with("db:migrate:undo")
                || p(0).starts_with("db:seed:undo")
            {
                destroy(e, format!("sequelize {} drops data", p(0)))
            } else {
                write(e, format!("sequelize {} changes the database", p(0)))
            }
        }
        "typeorm" | "typeorm-ts-node-commonjs" | "typeorm-ts-node-esm" => {
            if p(0) == "schema:drop"
                || p(0) == "migration:revert"
                || (p(0) == "schema:sync" && c.has("--drop"))
            {
                destroy(e, format!("typeorm {} drops tables", p(0)))
            } else {
                write(e, format!("typeorm {} changes the database", p(0)))
            }
        }
        "drizzle-kit" => {
            if p(0) == "drop" || (p(0) == "push" && (c.has("--force") || c.has("--strict=false"))) {
                destroy(e, format!("drizzle-kit {} can drop data", p(0)))
            } else {
                write(e, format!("drizzle-kit {} changes the schema", p(0)))
            }
        }
        "flyway" => {
            if pos.iter().any(|t| t == "clean" || t == "undo") {
                destroy(e, "flyway clean drops every object in the schema".into())
            } else {
                write(e, "flyway changes the database".into())
            }
        }
        "liquibase" => {
            if pos
                .iter()
                .any(|t| t.eq_ignore_ascii_case("dropAll") || t.starts_with("rollback"))
            {
                destroy(e, "liquibase dropAll / rollback drops data".into())
            } else {
                write(e, "liquibase changes the database".into())
            }
        }
        "diesel" => match (p(0), p(1)) {
            ("database", "reset" | "drop") => {
                destroy(e, format!("diesel database {} drops the database", p(1)))
            }
            ("migration", "revert" | "redo") => {
                destroy(e, format!("diesel migration {} reverts migrations", p(1)))
            }
            _ => write(e, format!("diesel {} changes the database", p(0))),
        },
        "sqlx" => match (p(0), p(1)) {
            ("database", "drop" | "reset") => {
                destroy(e, format!("sqlx database {} drops the database", p(1)))
            }
            ("migrate", "revert") => destroy(e, "sqlx migrate revert reverts a migration".into()),
            ("prepare", _) => write(e, "sqlx prepare writes query metadata".into()),
            _ => write(e, format!("sqlx {} changes the database", p(0))),
        },
        "mix" => {
            let task = p(0);
            if matches!(
                task,
                "ecto.drop" | "ecto.reset" | "ecto.rollback" | "ecto.migrations.reset"
            ) {
                destroy(e, format!("mix {task} drops or rewinds the database"))
            } else {
                None
            }
        }
        "goose" => {
            if pos
                .iter()
                .any(|t| matches!(t.as_str(), "down" | "reset" | "down-to" | "redo"))
            {
                destroy(e, "goose down/reset rolls migrations back".into())
            } else {
                write(e, "goose changes the database".into())
            }
        }
        "migrate" => {
            if pos.iter().any(|t| t == "down" || t == "drop") {
                destroy(e, "migrate down/drop removes migrations and data".into())
            } else {
                write(e, "migrate changes the database".into())
            }
        }
        "dbmate" => {
            if matches!(p(0), "drop" | "down" | "rollback") {
                destroy(e, format!("dbmate {} drops or rewinds the database", p(0)))
            } else {
                write(e, format!("dbmate {} changes the database", p(0)))
            }
        }
        "atlas" => {
            if p(0) == "schema" && p(1) == "clean" {
                destroy(e, "atlas schema clean drops every object".into())
            } else {
                write(e, "atlas changes the database schema".into())
            }
        }
        "artisan" => laravel(e, &pos),
        "php" if p(0) == "artisan" => laravel(e, pos.get(1..).unwrap_or_default()),
        "supabase" => match (p(0), p(1)) {
            ("db", "reset") => destroy(
                e,
                "supabase db reset drops and re-creates the database".into(),
            ),
            (
                "projects" | "branches" | "orgs" | "functions" | "secrets" | "domains" | "storage",
                "delete" | "rm" | "unset",
            ) => destroy(e, format!("supabase {} {} deletes it", p(0), p(1))),
            ("stop", _) if c.has("--no-backup") => {
                destroy(e, "supabase stop --no-backup deletes local data".into())
            }
            ("status" | "--version" | "help", _)
            | ("db", "diff" | "lint" | "dump")
            | ("projects" | "branches", "list") => Some(Flow::opaque()),
            _ => write(e, format!("supabase {} {} changes the project", p(0), p(1))),
        },
        _ => None,
    }
}

fn django(e: &mut Engine, pos: &[String]) -> Option<Flow> {
    let cmd = pos.first().map(String::as_str).unwrap_or("");
    let destructive = match cmd {
        "flush" | "reset_db" | "sqlflush_apply" | "drop_test_database" => true,
        "migrate" => pos.get(2).is_some_and(|t| t == "zero") || pos.len() > 2,
        _ => false,
    };
    if destructive {
        e.hit(Hit::new(
            Effect::Destroy,
            format!("manage.py {cmd} deletes data or unapplies migrations"),
        ));
    } else if matches!(
        cmd,
        "migrate"
            | "makemigrations"
            | "loaddata"
            | "createsuperuser"
            | "collectstatic"
            | "squashmigrations"
    ) {
        e.hit(Hit::new(
            Effect::Write,
            format!("manage.py {cmd} changes the project or database"),
        ));
    } else if !matches!(
        cmd,
        "check"
            | "showmigrations"
            | "sqlmigrate"
            | "sqlflush"
            | "diffsettings"
            | "help"
            | "inspectdb"
            | "dumpdata"
            | "version"
            | ""
    ) {
        e.hit(Hit::new(Effect::Write, format!("manage.py {cmd}")));
    }
    Some(Flow::opaque())
}

fn laravel(e: &mut Engine, pos: &[String]) -> Option<Flow> {
    let cmd = pos.first().map(String::as_str).unwrap_or("");
    if matches!(
        cmd,
        "migrate:fresh" | "migrate:reset" | "migrate:rollback" | "migrate:refresh" | "db:wipe"
    ) {
        e.hit(Hit::new(
            Effect::Destroy,
            format!("artisan {cmd} drops tables or rolls migrations back"),
        ));
    } else {
        e.hit(Hit::new(Effect::Write, format!("artisan {cmd}")));
    }
    Some(Flow::opaque())
}
