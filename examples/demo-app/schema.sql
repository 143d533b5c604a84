-- Demo schema. orders.reference is deliberately left without an index: the
-- by-reference route scans every order, which is what the reports should surface.
-- Foreign keys and secondary indexes are added by seed.js after the bulk insert (much faster).
DROP TABLE IF EXISTS order_items;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS products;
DROP TABLE IF EXISTS customers;

CREATE TABLE customers (
  id         integer PRIMARY KEY,
  name       text NOT NULL,
  email      text NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE products (
  id          integer PRIMARY KEY,
  name        text NOT NULL,
  price_cents integer NOT NULL
);

CREATE TABLE orders (
  id          integer PRIMARY KEY,
  customer_id integer NOT NULL,
  reference   text NOT NULL,
  status      text NOT NULL,
  total       numeric(10, 2) NOT NULL,
  created_at  timestamptz NOT NULL
);

CREATE TABLE order_items (
  id         bigserial PRIMARY KEY,
  order_id   integer NOT NULL,
  product_id integer NOT NULL,
  quantity   integer NOT NULL,
  unit_price numeric(10, 2) NOT NULL
);
