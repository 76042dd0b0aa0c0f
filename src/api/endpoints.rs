//! One method per endpoint, E1–E15: path, method, body encoding and whether a
//! repeat is safe. Everything else (auth, retries, errors) is in `client.rs`.

use reqwest::Method;
use serde::Serialize;

use super::client::{Call, Client, JSON_PLAIN, JSON_UTF8};
use super::error::{ApiError, ApiErrorKind};
use super::retry::Idempotency;
use super::wire::{
    DatabaseTables, DatabasesResponse, DbConfigCheckResponse, DbParameter, DbParametersResponse,
    Job, JobIdResponse, JobResponse, ListReplicationsResponse, ModifyResponse,
    ReplicationConfigResponse, ReplicationInfo, SourceDatabasesRequest, SourceDatabasesResponse,
    SourceTablesRequest, StartRequest, TableConfigCheckResponse, TablesResponse, TaskConfigRequest,
    TaskNameRequest,
};

/// Page size of the list endpoints (the documented maximum of E4).
pub(crate) const PAGE_SIZE: usize = 100;

/// Path segments of `/instances/{id}/starrocks/databases/replication[/rest]`.
fn replication(instance_id: &str, rest: &[&str]) -> Vec<String> {
    [
        "instances",
        instance_id,
        "starrocks",
        "databases",
        "replication",
    ]
    .iter()
    .chain(rest)
    .map(|s| s.to_string())
    .collect()
}

/// `limit` and `offset` of the page that starts at item `offset`.
fn page_query(offset: usize) -> Vec<(String, String)> {
    query(&[
        ("limit", PAGE_SIZE.to_string()),
        ("offset", offset.to_string()),
    ])
}

fn query(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

impl Client {
    fn get(
        &self,
        operation: &'static str,
        segments: Vec<String>,
        query: Vec<(String, String)>,
    ) -> Call {
        Call {
            operation,
            method: Method::GET,
            segments,
            query,
            body: None,
            idempotency: Idempotency::Safe,
        }
    }

    fn with_body<B: Serialize>(
        &self,
        operation: &'static str,
        method: Method,
        segments: Vec<String>,
        body: &B,
        content_type: &'static str,
        idempotency: Idempotency,
    ) -> Result<Call, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            ApiError::new(ApiErrorKind::Setup, operation).with_detail(e.to_string())
        })?;
        Ok(Call {
            operation,
            method,
            segments,
            query: Vec::new(),
            body: Some((bytes, content_type)),
            idempotency,
        })
    }

    /// E1 database-config-check.
    pub async fn check_db_config(
        &self,
        instance_id: &str,
        req: &TaskConfigRequest,
    ) -> Result<DbConfigCheckResponse, ApiError> {
        let path = replication(instance_id, &["database-config-check"]);
        let call = self.with_body(
            "database-config-check",
            Method::POST,
            path,
            req,
            JSON_UTF8,
            Idempotency::Safe,
        )?;
        self.execute(call).await
    }

    /// E2 table-config-check. With `is_create_task = "true"` it registers the
    /// task, so it is then retried only where no second task can result.
    pub async fn check_tables(
        &self,
        instance_id: &str,
        req: &TaskConfigRequest,
    ) -> Result<TableConfigCheckResponse, ApiError> {
        let creates = req
            .is_create_task
            .as_deref()
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let idempotency = if creates {
            Idempotency::CreatesTask
        } else {
            Idempotency::Safe
        };
        let path = replication(instance_id, &["table-config-check"]);
        let call = self.with_body(
            "table-config-check",
            Method::POST,
            path,
            req,
            JSON_UTF8,
            idempotency,
        )?;
        self.execute(call).await
    }

    /// E3: starts a registered task; returns the job id.
    pub async fn start(&self, instance_id: &str, req: &StartRequest) -> Result<String, ApiError> {
        let path = replication(instance_id, &[]);
        let call = self.with_body(
            "start",
            Method::POST,
            path,
            req,
            JSON_UTF8,
            Idempotency::CreatesTask,
        )?;
        self.execute::<JobIdResponse>(call).await.map(|r| r.job_id)
    }

    /// E4: every task of the instance, reading pages of 100 until `total_count` rows are in.
    pub async fn list_tasks(&self, instance_id: &str) -> Result<Vec<ReplicationInfo>, ApiError> {
        let mut all = Vec::new();
        loop {
            let page = self.list_page(instance_id, all.len(), PAGE_SIZE).await?;
            let received = page.replications.len();
            all.extend(page.replications);
            if received == 0 || all.len() as u64 >= page.total_count {
                return Ok(all);
            }
        }
    }

    /// E4, one page of at most `limit` (1 to [`PAGE_SIZE`]) rows from item `offset`.
    pub(crate) async fn list_page(
        &self,
        instance_id: &str,
        offset: usize,
        limit: usize,
    ) -> Result<ListReplicationsResponse, ApiError> {
        let q = query(&[
            ("limit", limit.clamp(1, PAGE_SIZE).to_string()),
            ("offset", offset.to_string()),
        ]);
        let call = self.get("list-tasks", replication(instance_id, &[]), q);
        self.execute(call).await
    }

    /// E5: a task's configuration, by task name.
    pub async fn task_config(
        &self,
        instance_id: &str,
        task_name: &str,
    ) -> Result<ReplicationConfigResponse, ApiError> {
        let q = query(&[("task_name", task_name.to_string())]);
        let call = self.get(
            "task-config",
            replication(instance_id, &["configuration"]),
            q,
        );
        self.execute(call).await
    }

    /// E6: a task's configuration, by target database name.
    pub async fn task_config_by_database(
        &self,
        instance_id: &str,
        database: &str,
    ) -> Result<ReplicationConfigResponse, ApiError> {
        let path = replication(instance_id, &["configuration", database]);
        self.execute(self.get("task-config-by-database", path, Vec::new()))
            .await
    }

    /// E7: the db_configs parameters the instance accepts.
    pub async fn db_parameters(&self, instance_id: &str) -> Result<Vec<DbParameter>, ApiError> {
        let path = replication(instance_id, &["database-parameters"]);
        let response: DbParametersResponse = self
            .execute(self.get("db-parameters", path, Vec::new()))
            .await?;
        Ok(response.db_parameters)
    }

    /// E8 (PUT): changes a task in place; the response carries check results and a job id.
    pub async fn modify(
        &self,
        instance_id: &str,
        req: &TaskConfigRequest,
    ) -> Result<ModifyResponse, ApiError> {
        let path = replication(instance_id, &[]);
        let call = self.with_body(
            "modify",
            Method::PUT,
            path,
            req,
            JSON_PLAIN,
            Idempotency::Safe,
        )?;
        self.execute(call).await
    }

    async fn task_job(
        &self,
        operation: &'static str,
        method: Method,
        instance_id: &str,
        rest: &[&str],
        task_name: &str,
    ) -> Result<String, ApiError> {
        let body = TaskNameRequest {
            task_name: task_name.to_string(),
        };
        let call = self.with_body(
            operation,
            method,
            replication(instance_id, rest),
            &body,
            JSON_UTF8,
            Idempotency::Safe,
        )?;
        self.execute::<JobIdResponse>(call).await.map(|r| r.job_id)
    }

    /// E9: pauses a task; returns the job id.
    pub async fn pause(&self, instance_id: &str, task_name: &str) -> Result<String, ApiError> {
        self.task_job("pause", Method::POST, instance_id, &["pause"], task_name)
            .await
    }

    /// E10: resumes a paused task; returns the job id.
    pub async fn resume(&self, instance_id: &str, task_name: &str) -> Result<String, ApiError> {
        self.task_job("resume", Method::POST, instance_id, &["resume"], task_name)
            .await
    }

    /// E11: deletes a task (DELETE with a JSON body); returns the job id.
    pub async fn delete(&self, instance_id: &str, task_name: &str) -> Result<String, ApiError> {
        self.task_job("delete", Method::DELETE, instance_id, &[], task_name)
            .await
    }

    /// E12: every StarRocks (target) database, paged.
    pub async fn target_databases(&self, instance_id: &str) -> Result<Vec<String>, ApiError> {
        let path: Vec<String> = ["instances", instance_id, "starrocks", "databases"]
            .map(String::from)
            .to_vec();
        self.all_pages(
            || Ok(self.get("target-databases", path.clone(), Vec::new())),
            |page: DatabasesResponse| (page.databases, page.total_count),
        )
        .await
    }

    /// E13: source (TaurusDB) databases, optionally filtered by one fuzzy name.
    pub async fn source_databases(
        &self,
        instance_id: &str,
        req: &SourceDatabasesRequest,
    ) -> Result<SourceDatabasesResponse, ApiError> {
        let path = ["instances", instance_id, "htap", "databases"]
            .map(String::from)
            .to_vec();
        self.execute(self.post_read("source-databases", path, req)?)
            .await
    }

    /// E14: source tables of the given databases.
    pub async fn source_tables(
        &self,
        instance_id: &str,
        req: &SourceTablesRequest,
    ) -> Result<TablesResponse, ApiError> {
        let path = ["instances", instance_id, "htap", "tables"]
            .map(String::from)
            .to_vec();
        self.execute(self.post_read("source-tables", path, req)?)
            .await
    }

    /// E13, every database of a source instance: pages of [`PAGE_SIZE`]
    /// until `total_count` names are in.
    pub async fn source_database_names(
        &self,
        instance_id: &str,
        source_instance_id: &str,
    ) -> Result<Vec<String>, ApiError> {
        let body = SourceDatabasesRequest {
            databases: Vec::new(),
            source_instance_id: source_instance_id.to_string(),
        };
        let path = ["instances", instance_id, "htap", "databases"].map(String::from);
        self.all_pages(
            || self.post_read("source-databases", path.to_vec(), &body),
            |page: SourceDatabasesResponse| (page.databases, page.total_count),
        )
        .await
    }

    /// E14, every table of one source database: one listing, read in pages
    /// of [`PAGE_SIZE`] (`limit`/`offset` in the query) until `total_count`
    /// names are in, never one call per table.
    pub async fn source_table_names(
        &self,
        instance_id: &str,
        source_instance_id: &str,
        database: &str,
    ) -> Result<Vec<String>, ApiError> {
        let body = SourceTablesRequest {
            source_instance_id: source_instance_id.to_string(),
            database_tables: vec![DatabaseTables {
                database: database.to_string(),
                tables: Vec::new(),
            }],
            selected_tables: Vec::new(),
            filter_type: Some("include_tables".to_string()),
        };
        let path = ["instances", instance_id, "htap", "tables"].map(String::from);
        self.all_pages(
            || self.post_read("source-tables", path.to_vec(), &body),
            |page: TablesResponse| (page.tables, page.total_count),
        )
        .await
    }

    /// A read sent as a POST with a JSON body (E13, E14): safe to repeat.
    fn post_read<B: Serialize>(
        &self,
        operation: &'static str,
        segments: Vec<String>,
        body: &B,
    ) -> Result<Call, ApiError> {
        self.with_body(
            operation,
            Method::POST,
            segments,
            body,
            JSON_PLAIN,
            Idempotency::Safe,
        )
    }

    /// Reads pages of [`PAGE_SIZE`] from item 0 until the reported total is
    /// in (or a page is empty): `call` builds the request, to which each
    /// page adds its `limit`/`offset`; `items` takes a page apart into its
    /// items and the total.
    async fn all_pages<P: serde::de::DeserializeOwned>(
        &self,
        call: impl Fn() -> Result<Call, ApiError>,
        items: impl Fn(P) -> (Vec<String>, u64),
    ) -> Result<Vec<String>, ApiError> {
        let mut all = Vec::new();
        loop {
            let mut page_call = call()?;
            page_call.query.extend(page_query(all.len()));
            let (page, total) = items(self.execute(page_call).await?);
            let received = page.len();
            all.extend(page);
            if received == 0 || all.len() as u64 >= total {
                return Ok(all);
            }
        }
    }

    /// E15: one job.
    pub async fn job(&self, job_id: &str) -> Result<Job, ApiError> {
        let call = self.get(
            "job",
            vec!["jobs".into()],
            query(&[("id", job_id.to_string())]),
        );
        self.execute::<JobResponse>(call).await.map(|r| r.job)
    }
}
