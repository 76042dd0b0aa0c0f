//! The documented endpoint of the replication API in each region (API
//! reference §8, from the official Go SDK's `gaussdb/v3/region`), so that a
//! provider may name only its region.

/// Region → host service: the SDK's table. Regions it does not list need an
/// explicit `endpoint`.
const REGIONS: &[(&str, &str)] = &[
    ("ap-southeast-1", "gaussdbformysql"),
    ("ap-southeast-2", "gaussdbformysql"),
    ("ap-southeast-3", "gaussdb"),
    ("ap-southeast-4", "gaussdb"),
    ("cn-east-3", "gaussdb"),
    ("cn-north-2", "gaussdb"),
    ("cn-north-4", "gaussdb"),
    ("cn-north-9", "gaussdb"),
    ("cn-south-1", "gaussdb"),
    ("cn-southwest-2", "gaussdb"),
    ("ru-northwest-2", "gaussdb"),
    ("sa-brazil-1", "gaussdb"),
    ("tr-west-1", "gaussdbformysql"),
];

/// `https://{service}.{region}.myhuaweicloud.com` for a region of the table.
pub fn regional_endpoint(region: &str) -> Option<String> {
    REGIONS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(r, service)| format!("https://{service}.{r}.myhuaweicloud.com"))
}

/// The regions whose endpoint is known, for messages.
pub fn known_regions() -> Vec<&'static str> {
    REGIONS.iter().map(|(r, _)| *r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_sdk_table() {
        assert_eq!(
            regional_endpoint("cn-north-4").as_deref(),
            Some("https://gaussdb.cn-north-4.myhuaweicloud.com")
        );
        assert_eq!(
            regional_endpoint("ap-southeast-1").as_deref(),
            Some("https://gaussdbformysql.ap-southeast-1.myhuaweicloud.com")
        );
        assert_eq!(regional_endpoint("eu-west-0"), None);
        assert!(known_regions().windows(2).all(|w| w[0] < w[1]));
    }
}
