-- The cluster's nodes as the coordinator knows them (group 0 is the coordinator).
SELECT nodename, nodeport, CASE WHEN groupid = 0 THEN 'coordinator' ELSE 'worker' END, isactive
FROM pg_dist_node WHERE noderole = 'primary' ORDER BY groupid, nodeid
