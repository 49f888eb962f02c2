-- a singular test: every mart day's count equals the staged transactions of that card and day
select m.card_id, m.day
from {{ ref('mart_card_daily') }} as m
join (
    select card_id, cast(date_trunc('day', event_time) as timestamp) as day, count(*) as n
    from {{ ref('stg_transactions') }}
    group by all
) as s using (card_id, day)
where m.txn_count <> s.n
