mod agreement;
mod buckets;
mod config;
mod contract;
mod distributions;
mod exposition;
mod grpc;
mod payload;

fn main() {
    let config = config::parse(std::env::var(contract::CONFIG_ENV).ok().as_deref());
    println!("{:?}", config.map(|c| c.revision));
}
